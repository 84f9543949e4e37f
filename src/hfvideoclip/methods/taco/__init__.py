"""`taco`: relative structure distillation from an EMA teacher, with a disposable specialization projection."""

from .objective import TacoConfig, TacoObjective

__all__ = ["TacoConfig", "TacoObjective"]
