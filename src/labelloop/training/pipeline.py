"""What a training job does with the model, inside the fit process.

1. Evaluate: fit on the annotations minus a held-out slice (or on k-1 folds, k times, when
   there are few), predict the held-out tasks, score the predictions against the
   annotations (:func:`labelloop.sdk.evaluation.evaluate`).
2. Compare: the served version's own evaluation model predicts the same held-out tasks.
3. Refit on every annotation: the model that serves.
4. Decide (:mod:`labelloop.training.promotion`): ``ok`` (promoted) or ``rejected``.

For a choices control, a task with several annotations is trained on their consensus
(:mod:`labelloop.training.consensus_labels`), and the label audit
(:mod:`labelloop.training.audit`) gathers each task's class probabilities from a model that
never saw it: the evaluation's models give those of the tasks they held out, more folds
(``Settings.audit_folds``) give the rest.

User code runs here (``fit``, ``predict``), so this runs in the forked child of
:mod:`labelloop.training.job`, never in a server.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelloop.errors import TrainingError
from labelloop.sdk.annotations import first_choice
from labelloop.sdk.evaluation import Evaluation, evaluate
from labelloop.sdk.label_config import LabelConfig
from labelloop.sdk.model import LabelStudioModel, Task
from labelloop.store.projects import ProjectInfo
from labelloop.store.versions import VersionInfo, VersionStatus
from labelloop.training.audit import (
    OutOfSample,
    audit_folds,
    run_audit,
    skipped,
)
from labelloop.training.consensus_labels import with_consensus
from labelloop.training.holdout import Split, predict_all, split
from labelloop.training.model_opener import ModelOpener
from labelloop.training.promotion import Decision, decide

Progress = Callable[[float, str], None]
EVAL_DIR = "eval"
AUDIT_DIR = "audit"
MIN_EVAL_TASKS = 10


@dataclass
class Outcome:
    train_output: dict[str, Any]
    decision: Decision
    n_train: int
    metrics: dict[str, Any] | None = None
    n_eval: int = 0
    evaluation: dict[str, Any] = field(default_factory=dict)
    consensus: dict[str, Any] | None = None
    audit: dict[str, Any] | None = None

    @property
    def status(self) -> VersionStatus:
        return VersionStatus.OK if self.decision.promote else VersionStatus.REJECTED


class Pipeline:
    """Train version ``version`` of ``project`` (models built by ``opener``)."""

    def __init__(self, opener: ModelOpener, project: str, version: str, info: ProjectInfo,
                 current: VersionInfo | None, progress: Progress) -> None:
        self.opener = opener
        self.settings = opener.settings
        self.model_cls = opener.model_class
        self.project, self.version, self.info = project, version, info
        self.config: LabelConfig = opener.label_config(info.label_config)
        self.current = current
        self.progress = progress
        choices = [c for c in self.config.controls if c.type == "choices"]
        self.choices = choices[0] if choices else None
        self.found: OutOfSample | None = None  # the audit's probabilities, as they come
        self.audit_error = ""
        self.audit_seconds = 0.0  # the audit's time inside the evaluation

    def build(self, train_output: dict[str, Any] | None) -> LabelStudioModel:
        return self.opener.build(self.project, self.version, self.config, train_output,
                                 self.info)

    def fit(self, tasks: list[Task], workdir: Path, span: tuple[float, float],
            what: str, **kwargs: Any) -> dict[str, Any]:
        """A fresh model (seeded with the served version's output) fits ``tasks``."""
        workdir.mkdir(parents=True, exist_ok=True)
        model = self.build(self.current.train_output if self.current else None)
        low, high = span
        model.on_progress = lambda f, m: self.progress(
            low + (high - low) * min(max(f, 0.0), 1.0), f"{what}: {m}" if m else what)
        self.progress(low, what)
        output = model.fit(tasks, workdir, **kwargs)
        if not isinstance(output, dict):
            raise TrainingError(f"{self.model_cls.__name__}.fit() returned "
                                f"{type(output).__name__}, not a dict")
        return output

    def run(self, tasks: list[Task], workdir: Path, **fit_kwargs: Any) -> Outcome:
        consensus = None
        if self.choices is not None:
            tasks, consensus = with_consensus(tasks, self.choices.name, self.settings.consensus)
        why_no_audit = self._why_no_audit()
        if why_no_audit is None and self.choices is not None:
            self.found = OutOfSample(list(self.choices.labels))
        plan = self._split(tasks)
        started = time.monotonic()
        evaluation, scored, eval_output = self._evaluate(plan, workdir, **fit_kwargs)
        evaluation["seconds"] = round(time.monotonic() - started, 3)
        current_score, why_not = self._current_score(plan, scored)
        if self.settings.refit or eval_output is None:
            output = self.fit(tasks, workdir, (0.55 if scored else 0.0, 0.98), "fit",
                              **fit_kwargs)
        else:  # the evaluation model serves: it trained on all but the held-out tasks
            output = eval_output
        decision = decide(self.settings.promote, self.settings.promote_tolerance,
                          self.settings.promote_min_eval,
                          scored.score if scored else None, current_score,
                          scored.n_eval if scored else 0,
                          self.current.version if self.current else None, why_not)
        audit = self._audit(tasks, plan, workdir, **fit_kwargs) if why_no_audit is None \
            else skipped(why_no_audit)
        return Outcome(output, decision, n_train=len(tasks),
                       metrics=scored.to_dict() if scored else None,
                       n_eval=scored.n_eval if scored else 0, evaluation=evaluation,
                       consensus=consensus, audit=audit)

    def _why_no_audit(self) -> str | None:
        if not self.settings.audit:
            return "the label audit is off (LABELLOOP_AUDIT)"
        if self.choices is None:
            return "the label config has no <Choices> control to audit"
        if not hasattr(self.model_cls, "class_probabilities"):
            return (f"{self.model_cls.__name__} has no class_probabilities() to judge "
                    "labels with")
        if not getattr(self.model_cls, "supports_evaluation", True):
            return f"{self.model_cls.__name__} chooses its own training data"
        return None

    def _audit(self, tasks: list[Task], plan: Split, workdir: Path,
               **fit_kwargs: Any) -> dict[str, Any]:
        """Probabilities for the tasks the evaluation did not hold out (a fit each of
        the other folds), then the suspects. A failure skips the audit, not the job."""
        assert self.found is not None and self.choices is not None
        if self.audit_error:
            return {**skipped(f"the label audit failed: {self.audit_error}"),
                    "status": "failed"}
        if len(tasks) < MIN_EVAL_TASKS:
            return skipped(f"too few annotated tasks to audit ({len(tasks)} < "
                           f"{MIN_EVAL_TASKS})")
        started = time.monotonic()
        try:
            done = plan.method == "kfold"  # every task was predicted by a fold model
            folds = [] if done else audit_folds(tasks, plan.held_out,
                                                self.settings.audit_folds)
            for i, fold in enumerate(folds):
                rest = [t for j, f in enumerate(folds) if j != i for t in f] + plan.held_out
                folder = workdir / AUDIT_DIR / f"fold-{i}"
                out = self.fit(rest, folder, (0.98, 0.98),
                               f"label audit {i + 1}/{len(folds)}", **fit_kwargs)
                self.found.add(self.build(out), fold)
                shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(workdir / AUDIT_DIR, ignore_errors=True)
            audit = run_audit(self.found, self.choices.name)
        except Exception as exc:  # user code: the model still serves
            return {**skipped(f"the label audit failed: {type(exc).__name__}: {exc}"),
                    "status": "failed"}
        audit["folds"] = len(folds) + (len(plan.folds) if done else 1)
        audit["seconds"] = round(time.monotonic() - started + self.audit_seconds, 3)
        return audit

    def _found(self, model: LabelStudioModel, tasks: list[Task]) -> None:
        """An evaluation model's probabilities of the tasks it held out, for the audit."""
        if self.found is None:
            return
        started = time.monotonic()
        try:
            self.found.add(model, tasks)
        except Exception as exc:  # user code: the audit reports it
            self.audit_error = f"{type(exc).__name__}: {exc}"
        self.audit_seconds += time.monotonic() - started

    def _split(self, tasks: list[Task]) -> Split:
        if not self.settings.evaluate:
            return Split("skipped", train=tasks, reason="evaluation is off (LABELLOOP_EVALUATE)")
        if not getattr(self.model_cls, "supports_evaluation", True):
            return Split("skipped", train=tasks,
                         reason=f"{self.model_cls.__name__} chooses its own training data")
        choices = [c for c in self.config.controls if c.type == "choices"]
        label_of: Callable[[Task], str | None] = (
            (lambda t: first_choice(t, choices[0].name)) if choices else (lambda t: None))
        return split(tasks, self.settings.eval_share, self.settings.eval_kfold_below,
                     MIN_EVAL_TASKS, label_of)

    def _evaluate(self, plan: Split, workdir: Path, **fit_kwargs: Any) -> tuple[
            dict[str, Any], Evaluation | None, dict[str, Any] | None]:
        if plan.method == "holdout":
            out = self.fit(plan.train, workdir / EVAL_DIR, (0.0, 0.45), "evaluation fit",
                           **fit_kwargs)
            self.progress(0.45, "evaluating on held-out annotations")
            model = self.build(out)
            preds = predict_all(model, plan.held_out, self.settings.predict_chunk)
            scored = evaluate(self.config, plan.held_out, preds)
            self._found(model, plan.held_out)
            return ({"method": "holdout", "train_output": out,
                     "held_out": len(plan.held_out)}, scored, out)
        if plan.method == "kfold":
            return self._cross_validate(plan, workdir, **fit_kwargs)
        return {"method": "skipped", "reason": plan.reason}, None, None

    def _cross_validate(self, plan: Split, workdir: Path, **fit_kwargs: Any) -> tuple[
            dict[str, Any], Evaluation, None]:
        """Each fold is predicted by a model fit on the others; the folds' models are
        thrown away (too few annotations to judge versions against each other)."""
        tasks, preds = [], []
        for i, fold in enumerate(plan.folds):
            rest = [t for j, f in enumerate(plan.folds) if j != i for t in f]
            span = (0.45 * i / len(plan.folds), 0.45 * (i + 1) / len(plan.folds))
            folder = workdir / EVAL_DIR / f"fold-{i}"
            out = self.fit(rest, folder, span, f"cross-validation {i + 1}/{len(plan.folds)}",
                           **fit_kwargs)
            model = self.build(out)
            preds += predict_all(model, fold, self.settings.predict_chunk)
            self._found(model, fold)
            tasks += fold
            shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(workdir / EVAL_DIR, ignore_errors=True)
        return ({"method": "kfold", "folds": len(plan.folds)},
                evaluate(self.config, tasks, preds), None)

    def _current_score(self, plan: Split, scored: Evaluation | None) -> tuple[float | None, str]:
        """The served version's evaluation model on the same held-out tasks, when it has
        one: it never trained on them (the hold-out is a stable function of the task).
        Else None, and why."""
        if scored is None or self.settings.promote == "always":
            return None, "not needed"
        if self.current is None:
            return None, "no served version to compare with"
        if plan.method != "holdout":
            return None, ("cross-validated on few annotations: the served version cannot be "
                          "scored on the same held-out tasks")
        kept = ((self.current.job_result or {}).get("evaluation") or {}).get("train_output")
        if not isinstance(kept, dict):
            return None, f"the served version {self.current.version} kept no evaluation model"
        self.progress(0.5, f"scoring the served version {self.current.version}")
        preds = predict_all(self.build(kept), plan.held_out, self.settings.predict_chunk)
        return evaluate(self.config, plan.held_out, preds).score, ""
