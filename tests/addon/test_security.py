from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from addon.security import TokenCipher


def test_round_trip_and_ciphertext_hides_the_token() -> None:
    cipher = TokenCipher(Fernet.generate_key().decode())
    blob = cipher.encrypt("refresh-token-123")
    assert b"refresh-token-123" not in blob
    assert cipher.decrypt(blob) == "refresh-token-123"


def test_key_rotation_decrypts_old_and_reencrypts_under_new_key() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    blob = TokenCipher(old).encrypt("secret")
    rotated_cipher = TokenCipher(f"{new},{old}")
    assert rotated_cipher.decrypt(blob) == "secret"
    rotated = rotated_cipher.rotate(blob)
    assert TokenCipher(new).decrypt(rotated) == "secret"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        TokenCipher(old).decrypt(rotated)


def test_empty_key_is_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        TokenCipher(" , ")
