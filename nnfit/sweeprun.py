"""nnfit sweep's driver: one loop over futures, whether the runs go to a local process pool or to a Dask cluster.

run_sweep submits every run that is not finished, takes outcomes as they come, writes each trial's row to
results.csv and moves `best` as trials end, stops on request, then refits the best config. The pools
(pools.py) only hand out futures. Nothing here prints: the CLI passes callbacks.
"""

from __future__ import annotations

import shutil
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import UsageError
from .pools import DaskPool, LocalPool, default_workers
from .sweep import Sweep, Trial
from .sweepcheck import check_data
from .sweepdir import SweepDir, finished_with
from .sweeprows import ranked, trial_row
from .sweepjob import FINAL, Job, starts

WAIT_SECONDS = 0.25  # how often the loop looks at should_stop while runs are out
WARNINGS = 5  # the runs' warnings passed on, at most
LOST_ATTEMPTS = 3  # pool breaks in a row with no run starting or ending: its processes cannot run anything


def _ignore(*_args) -> None:
    pass


@dataclass
class SweepResult:
    line: dict  # what `nnfit sweep` prints
    stopped: bool  # interrupted on request
    problems: list[str] = field(default_factory=list)  # failed trials, a failed refit: exit status 1


def run_sweep(sweep: Sweep, out, workers: int | None = None, scheduler: str | None = None, resume: bool = False,
              on_trial: Callable[[dict, dict | None, int, int], None] = _ignore,
              warn: Callable[[str], None] = _ignore, should_stop: Callable[[], bool] | None = None,
              pool: LocalPool | None = None) -> SweepResult:
    """Run the sweep into the folder `out`, or continue the one there (see sweepdir.py for what is kept);
    with resume, there must be one. On this machine with `workers` processes (default: one per core), or on
    the Dask cluster whose scheduler is at `scheduler`.

    on_trial(row, best row so far, trials ended, trials) after each trial. should_stop() is looked at four
    times a second: once true, no run starts and the running ones stop with a checkpoint. pool: a LocalPool
    started already (LocalPool(n).start(), as `nnfit sweep` does before its own imports), which runs the trials
    instead of the one `workers` or `scheduler` would give, and which run_sweep closes, whatever happens."""
    folder = SweepDir(out)
    try:
        if resume and not (folder.path / "sweep.yaml").is_file():
            raise UsageError(f"{out}: holds no sweep to resume (no sweep.yaml); leave out --resume to start one")
        plan = folder.check(sweep)
        done = {t.name for t in sweep.trials if all(plan.status[run] == "finished" for run, _ in t.runs())}
        jobs = [(t, run, cfg) for t in sweep.trials for run, cfg in t.runs() if plan.status[run] != "finished"]
        check_data([(t, cfg) for t, _, cfg in jobs])
    except BaseException:
        if pool is not None:
            pool.close()
        raise
    if pool is None and scheduler is not None:
        pool = DaskPool(scheduler)
    elif pool is None:
        pool = LocalPool(max(1, min(workers or default_workers(), len(jobs) or 1)))
    try:
        paths = sorted({p for _, _, cfg in jobs for p in (cfg.data.train, cfg.data.valid, cfg.data.test) if p})
        pool.check_workers(paths, Path(out).resolve())
        driver = _Driver(sweep, folder, pool, uuid.uuid4().hex, warn, should_stop)
        folder.start(sweep, driver.session)
        folder.apply(plan, driver.session, warn)
        rows = {t.name: trial_row(sweep, t, folder.path, {}) for t in sweep.trials if t.name in done}
        folder.rewrite(sweep, list(rows.values()))
        if done:
            warn(f"{out}: keeping the {len(done)} finished trials of {len(sweep.trials)}")
        folder.set_best(_best_name(sweep, rows))
        try:
            result = driver.trials(jobs, rows, on_trial)
            if sweep.spec.refit:
                result.line["final"] = None  # till the refit finishes: null for a script, interrupted or failed
            if sweep.spec.refit and not driver.stopping:
                driver.refit(rows, result)
        except BaseException:
            folder.set_session(f"stop {driver.session}")  # whatever went wrong here, the workers stop too
            raise
        folder.rewrite(sweep, list(rows.values()))
        folder.set_best(_best_name(sweep, rows))
        return result
    finally:
        pool.close()
        folder.close()


def _best_name(sweep: Sweep, rows: dict) -> str | None:
    best = ranked(sweep, list(rows.values()))
    return best[0]["trial"] if best else None


class _Driver:
    def __init__(self, sweep: Sweep, folder: SweepDir, pool, session: str, warn, should_stop):
        self.sweep, self.folder, self.pool, self.session, self.warn = sweep, folder, pool, session, warn
        self.should_stop = should_stop or (lambda: False)
        self.stopping = False
        self.seen_warnings: set[str] = set()
        self.progress = 0  # runs that came back or started in this session: the workers are working
        self.known_starts: dict[str, int] = {}  # run -> its starts in this session, as last read

    def run(self, jobs: list[Job], on_outcome: Callable[[Job, dict], None]) -> None:
        """Submit the jobs, hand each outcome to on_outcome. A run whose worker was lost goes again, elsewhere
        (see _lost): a lost worker breaks the whole local pool, failing the runs queued in it too."""
        out = {self.pool.submit(job, 1): (job, 1, 0, self.progress) for job in jobs}
        while out:
            self._stop_if_asked(out, on_outcome)
            done = self.pool.wait(set(out), WAIT_SECONDS)
            self._stop_if_asked(out, on_outcome)  # a Ctrl-C during the wait: before a lost run goes again
            done &= set(out)
            lost = {f: starts(self.folder.path, out[f][0].run, self.session) for f in done
                    if not f.cancelled() and isinstance(f.exception(), self.pool.infrastructure)}
            for future in done:  # first what the workers did: runs that came back, runs that started
                if future in lost:
                    run = out[future][0].run
                    self.progress += max(0, lost[future] - self.known_starts.get(run, 0))
                    self.known_starts[run] = lost[future]
                elif not future.cancelled():
                    self.progress += 1
            for future in done:
                job, attempt, fruitless, mark = out.pop(future)
                if future in lost:
                    self.pool.lost(future)
                    fruitless = 0 if self.progress > mark else fruitless + 1
                    outcome = self._lost(job, lost[future], fruitless)
                    if outcome is None:
                        out[self.pool.submit(job, attempt + 1)] = (job, attempt + 1, fruitless, self.progress)
                        continue
                else:
                    outcome = self._outcome(future, job)
                self._warn_once(job, outcome.get("warnings", []))
                on_outcome(job, outcome)

    def _stop_if_asked(self, out: dict, on_outcome) -> None:
        if not self.stopping and self.should_stop():
            self.stopping = True
            self.folder.set_session(f"stop {self.session}")  # running jobs checkpoint and stop
            for future in self.pool.unstarted(list(out)):  # runs that will not start: no need to wait
                on_outcome(out.pop(future)[0], {"state": "new"})

    def _warn_once(self, job: Job, messages: list[str]) -> None:
        """A run's warnings, each text once, and no more than WARNINGS in all: every run's summary.json keeps
        its own notes."""
        for message in messages:
            if message in self.seen_warnings or len(self.seen_warnings) > WARNINGS:
                continue
            self.seen_warnings.add(message)
            self.warn(f"{job.run}: {message}" if len(self.seen_warnings) <= WARNINGS else
                      "more warnings are in each run's summary.json (notes)")

    def _lost(self, job: Job, started: int, fruitless: int) -> dict | None:
        """The outcome of a run whose worker was lost after it had started `started` times in this session, the
        last `fruitless` times with no run starting or ending anywhere meanwhile; None: submit it again."""
        if self.stopping:  # a Ctrl-C also reaches the pool's idle processes, which quit
            return {"state": "interrupted" if (self.folder.path / job.run / "config.yaml").exists() else "new"}
        if started >= 2:
            return {"state": "failed", "error": "the workers running it died twice (killed, or out of memory?)"}
        if fruitless < LOST_ATTEMPTS:
            return None
        # the worker processes end before they run anything: they cannot start, or cannot import nnfit?
        return {"state": "failed", "error": f"the worker processes ended {fruitless} times in a row before they "
                                            f"could start a run (see the messages above)"}

    def _outcome(self, future, job: Job) -> dict:
        if future.cancelled():
            return {"state": "new"}
        error = future.exception()
        if error is None:
            return future.result()
        text = "".join(traceback.format_exception(error)).rstrip()
        self.warn(f"{job.run}: an error inside nnfit (please report it):\n{text}")
        return {"state": "failed", "error": f"an error inside nnfit: {type(error).__name__}: {error}"}

    def trials(self, jobs: list[tuple[Trial, str, object]], rows: dict, on_trial) -> SweepResult:
        sweep, folder = self.sweep, self.folder
        pending = {t.name: sum(1 for j in jobs if j[0] is t) for t in sweep.trials}
        outcomes: dict[str, dict] = {}
        trials = {t.name: t for t in sweep.trials}
        ended = [len(rows)]

        def on_outcome(job: Job, outcome: dict) -> None:
            name = job.run.split("/")[1]
            outcomes[job.run] = outcome
            pending[name] -= 1
            if pending[name]:
                return
            trial = trials[name]
            mine = {run: outcomes[run] for run, _ in trial.runs() if run in outcomes}
            if all(o["state"] == "new" for o in mine.values()):
                return  # never started: no row
            row = trial_row(sweep, trial, folder.path, mine)
            rows[name] = row
            folder.append(sweep, row)
            best = ranked(sweep, list(rows.values()))
            if best and best[0]["trial"] == name:
                folder.set_best(name)
            ended[0] += 1
            on_trial(row, best[0] if best else None, ended[0], len(sweep.trials))

        self.run([Job(run, cfg, str(folder.path.resolve()), self.session) for _, run, cfg in jobs], on_outcome)
        return self._result(rows)

    def refit(self, rows: dict, result: SweepResult) -> None:
        """The best trial's config on every training row, into final/; kept when it already finished so."""
        best = ranked(self.sweep, list(rows.values()))
        if not best:
            if any(r["state"] == "finished" for r in rows.values()):  # else the trials' failures say it all
                result.problems.append(f"refit: no finished trial has a value of {self.sweep.spec.metric}, so "
                                       "there is no best trial to refit")
            return
        trial = next(t for t in self.sweep.trials if t.name == best[0]["trial"])
        cfg = self.sweep.refit_config(trial, round(best[0]["epoch"]))
        final, outcome = self.folder.path / FINAL, {}
        if not finished_with(final, cfg):
            if final.exists():  # the best trial changed (more samples, say), or the refit never finished
                self.warn(f"{final}: refitting the best trial, {trial.name}")
                shutil.rmtree(final)
            self.run([Job(FINAL, cfg, str(self.folder.path.resolve()), self.session)],
                     lambda job, o: outcome.update(o))
        if finished_with(final, cfg):
            result.line["final"] = str(final)
        elif outcome.get("state") == "interrupted" or self.stopping:
            result.stopped = True
        else:
            result.problems.append(f"final: the refit failed: {outcome.get('error')}")

    def _result(self, rows: dict) -> SweepResult:
        sweep, metric = self.sweep, self.sweep.spec.metric
        states = [r["state"] for r in rows.values()]
        best = ranked(sweep, list(rows.values()))
        line = {"sweep_dir": str(self.folder.path), "best": None, "run_dir": None, "parameters": None, metric: None}
        if best:
            b = best[0]
            line.update(best=b["trial"], run_dir=str(self.folder.path / "best"),
                        parameters=next(t.values for t in sweep.trials if t.name == b["trial"]), **{metric: b[metric]})
            if sweep.spec.folds:
                line[f"{metric}_std"] = b[f"{metric}_std"]
            line["epoch"] = b["epoch"]
        line.update(trials=len(sweep.trials), finished=states.count("finished"), failed=states.count("failed"),
                    interrupted=states.count("interrupted"), not_started=len(sweep.trials) - len(states))
        failed = [r for r in rows.values() if r["state"] == "failed"]
        problems = [f"{len(failed)} of {len(sweep.trials)} trials failed (first: {failed[0]['trial']}: "
                    f"{failed[0]['error']})"] if failed else []
        if not self.stopping and line["interrupted"]:
            problems.append(f"{line['interrupted']} trials were interrupted")
        unscored = [r for r in rows.values() if r["state"] == "finished" and r.get(metric) is None]
        if unscored and not best:
            problems.append(f"no finished trial has a value of {metric}, the metric that ranks them (first: "
                            f"{unscored[0]['trial']}: {unscored[0]['error']}); choose another metric")
        return SweepResult(line, self.stopping, problems)
