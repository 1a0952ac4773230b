"""All models, imported here so metadata is complete for Alembic and create_all."""

from addon.models.audit import AuditLog
from addon.models.base import Base
from addon.models.dunning import DunningAction, DunningHold, DunningPolicy, DunningStage, Suppression
from addon.models.ledger import CreditAllocation, CreditNote, Customer, Invoice, Payment, PaymentAllocation
from addon.models.reconciliation import BankLine, BankStatement, Match, PayerAlias
from addon.models.scoring import ModelVersion, RiskScore
from addon.models.tenant import Connection, Membership, Role, Tenant, TenantStatus, User
from addon.models.webhook import WebhookEvent, WebhookStatus

__all__ = [
    "AuditLog", "BankLine", "BankStatement", "Base", "Connection", "CreditAllocation", "CreditNote",
    "Customer", "DunningAction", "DunningHold", "DunningPolicy", "DunningStage", "Invoice", "Match", "Membership",
    "ModelVersion", "PayerAlias", "Payment", "PaymentAllocation", "RiskScore", "Role", "Suppression",
    "Tenant", "TenantStatus", "User", "WebhookEvent", "WebhookStatus",
]
