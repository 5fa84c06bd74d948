"""The lab session on screen: the window and the Qt objects that run one participant's session.

``LabSession`` shows instructions -> practice -> feed -> end screen (the Qt side of
``feedapp.ui.lab.run_lab``; the module docstring there says what is logged); ``FeedRun`` is one
recorded feed on screen (the practice block or the study session); ``LabWindow`` is the one window
of a lab session, a stack of screens. Importing this module imports Qt: ``feedapp.ui.lab`` imports
it only once Qt is started (``feedapp.ui.app.start_qt``), so the light ``feedapp lab`` commands
stay free of Qt.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QStackedWidget, QVBoxLayout, QWidget

from feedapp.core.catalog import Catalog
from feedapp.core.model import Clip, View
from feedapp.errors import UserError
from feedapp.lab.data import Continuation
from feedapp.lab.study import PRACTICE_EVENT, STUDY_EVENT, Assignment, Study, resolve_clip_names
from feedapp.ui import overlays
from feedapp.ui.app import _say, attach_session, make_engine, new_recorder
from feedapp.ui.kiosk import DEFAULT_HOTKEY, KioskGuard
from feedapp.ui.lab_dialogs import ConsentPage, OperatorDialog, PinDialog, QuestionnairePage, ScreenPage, TopicsCard
from feedapp.ui.window import PlayerWindow, portrait_size

PRACTICE_RANKER = "random"


class LabWindow(QWidget):
    """The one window of a lab session: a stack of screens (instructions, feed, end)."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("feedapp lab")
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, overlays.BACKGROUND)
        self.setPalette(pal)
        self.setAutoFillBackground(True)
        self.stack = QStackedWidget(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.guard: KioskGuard | None = None
        self.on_close = None  # called when a close is allowed

    def show_page(self, page: QWidget) -> None:
        if self.stack.indexOf(page) < 0:
            self.stack.addWidget(page)
        self.stack.setCurrentWidget(page)
        page.setFocus()

    def changeEvent(self, event) -> None:  # noqa: ANN001, N802
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.ActivationChange:
            page = self.stack.currentWidget()
            if isinstance(page, PlayerWindow):  # embedded: forward the window's focus to its player
                page.view.set_focused(self.isActiveWindow())
        super().changeEvent(event)

    def closeEvent(self, event) -> None:  # noqa: ANN001, N802
        if self.guard is not None and not self.guard.allows_close():
            event.ignore()  # kiosk: the close button, Alt+F4 through a window manager, window.close()
            return
        if self.on_close is not None:
            self.on_close()
        super().closeEvent(event)


class _TimeLimit(QObject):
    """A time limit that stands still while the session is paused by the experimenter."""

    def __init__(self, seconds: float, on_expire, parent: QObject) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.remaining_ms = max(0.0, seconds * 1000.0)
        self._since: int | None = None
        self.timer = QTimer(self, singleShot=True)
        self.timer.timeout.connect(on_expire)

    def start(self) -> None:
        self._since = time.monotonic_ns()
        self.timer.start(int(self.remaining_ms))

    def pause(self) -> None:
        if self._since is not None:
            self.remaining_ms = max(0.0, self.remaining_ms - (time.monotonic_ns() - self._since) / 1e6)
            self._since = None
            self.timer.stop()

    def stop(self) -> None:
        self.pause()

    def left_ms(self) -> float:
        running = (time.monotonic_ns() - self._since) / 1e6 if self._since is not None else 0.0
        return max(0.0, self.remaining_ms - running)


class FeedRun(QObject):
    """One recorded feed on screen (the practice block or the study session) until it ends."""

    ended = Signal(str)  # end reason

    def __init__(self, lab: LabSession, *, catalog: Catalog, ranker: str, params: dict, seed: int,
                 warmup: Sequence[Clip], recorder_kwargs: dict, views_limit: int | None,
                 seconds_limit: float | None, replay: Sequence[View] = (), spent_ms: float = 0.0,
                 shown_before: Sequence[str] = ()) -> None:
        super().__init__(lab)
        self.lab = lab
        self.engine = make_engine(catalog, ranker, seed, params, warmup=warmup)
        self.plugin_timer = self._serve_plugin()
        if replay or shown_before:  # a continued session: the ranker first learns what the crashed one saw,
            self.engine.continue_from(replay, shown_before)  # and its clips count as served (not shown again)
        lab.log.clips_known(tuple(catalog.clips))
        self.page = PlayerWindow(self.engine, muted=lab.muted)
        view = self.page.view
        # no clip plays any more (the clips' drive removed): words for the participant, the details on the terminal
        view.none_playable_screen = ("Please call the experimenter",
                                     "The videos cannot be played right now.\nPlease call the experimenter.")
        for sig, slot in ((view.fullscreen_requested, self.page.toggle_fullscreen),
                          (view.escape_pressed, self.page.leave_fullscreen), (view.quit_requested, self.page.close)):
            try:
                sig.disconnect(slot)  # the lab window owns fullscreen and quitting
            except (RuntimeError, TypeError):  # pragma: no cover - PySide versions differ here
                pass
        view.fullscreen_requested.connect(lab.toggle_fullscreen)
        view.escape_pressed.connect(lab.leave_fullscreen)
        view.quit_requested.connect(lab.request_quit)
        self.recorder = new_recorder(lab.log, catalog, **recorder_kwargs)
        self.views_limit = views_limit
        self.spent_ms = spent_ms
        self.time_limit = _TimeLimit(seconds_limit, lambda: self.limit_reached("minutes"), self) \
            if seconds_limit is not None else None
        self.paused_by_operator = False
        self._we_paused_playback = False
        self._dialog: str | None = None  # a focus-taking dialog is open over the clip
        self._dialog_paused_playback = False
        self.reason: str | None = None

    def attach(self) -> None:
        """After the session's first events are written: connect the player and start playing."""
        # the taste panel hidden (P; blocked in kiosk mode) and without viewer actions; no developer tools
        self.bridge = attach_session(self.page, self.engine, self.recorder, on_view_closed=self._view_closed,
                                     panels_visible=False, panel_controls=False, dev_tools=False)
        self.lab.window.show_page(self.page)
        self.page.view.start()
        if self.time_limit is not None:
            self.time_limit.start()

    @property
    def running(self) -> bool:
        return self.reason is None

    @property
    def view(self):  # noqa: ANN201
        return self.page.view

    def _view_closed(self, rec) -> None:  # noqa: ANN001 - ViewRecord
        if self.views_limit is not None and self.recorder.views_closed >= self.views_limit:
            self.limit_reached("views")

    def limit_reached(self, which: str) -> None:
        if not self.running:
            return
        value = self.views_limit if which == "views" else (self.lab.study.limits.minutes if self.lab.study else None)
        elapsed = (time.monotonic_ns() - self.recorder.started_ns) / 1e6 + self.spent_ms
        self.recorder.event("limit_reached", limit=which, value=value, views=self.recorder.views_closed,
                            elapsed_ms=round(elapsed, 1))
        self.end("finished")

    def pause(self) -> None:
        if not self.running or self.paused_by_operator:
            return
        self.recorder.event("operator_pause")
        self.paused_by_operator = True
        if self.time_limit is not None:
            self.time_limit.pause()
        if not self.view.is_paused:
            self.view.toggle_pause()  # the player's own pause event: the paused time is paused_ms
            self._we_paused_playback = self.view.is_paused
        self.view.set_message("Paused", "The experimenter paused the session.")
        self.view.setEnabled(False)

    def hold_for_dialog(self, name: str) -> None:
        """A dialog takes the focus (the experimenter's PIN or menu): pause the clip and say so in the log
        (``dialog_opened``; the player's own ``pause`` event follows, so the clip does not loop behind it)."""
        if not self.running or self._dialog is not None:
            return
        self._dialog = name
        self.recorder.event("dialog_opened", dialog=name)
        if not self.view.is_paused:
            self.view.toggle_pause()
            self._dialog_paused_playback = self.view.is_paused

    def release_dialog(self) -> None:
        """The dialog is gone: ``dialog_closed``, and the clip plays again unless the experimenter paused."""
        if self._dialog is None:
            return
        if self.running:
            self.recorder.event("dialog_closed", dialog=self._dialog)
        self._dialog = None
        if self._dialog_paused_playback and self.running:
            if self.paused_by_operator:
                self._we_paused_playback = True  # the operator's resume plays it again
            elif self.view.is_paused:
                self.view.toggle_pause()
        self._dialog_paused_playback = False

    def progress(self) -> str:
        """Views done and time left, for the experimenter's menu."""
        done = self.recorder.views_closed
        views = f"{done} of {self.views_limit} views done" if self.views_limit is not None else f"{done} views done"
        if self.time_limit is None:
            return views + ", no time limit"
        left = int(round(self.time_limit.left_ms() / 1000))
        return views + f", {left // 60}:{left % 60:02d} left"

    def resume(self) -> None:
        if not self.running or not self.paused_by_operator:
            return
        self.recorder.event("operator_resume")
        self.paused_by_operator = False
        self.view.setEnabled(True)
        self.view.clear_message()
        if self._we_paused_playback and self.view.is_paused:
            self.view.toggle_pause()
        self._we_paused_playback = False
        self.view.setFocus()
        if self.time_limit is not None:
            self.time_limit.start()

    def end(self, reason: str) -> None:
        """End the session (closing the open view) and stop the player once the swipe has landed."""
        if not self.running:
            return
        self.reason = reason
        if self.time_limit is not None:
            self.time_limit.stop()
        self.bridge.end(reason)
        self.view.setEnabled(False)
        self._stop_when_settled()
        self.ended.emit(reason)

    def _stop_when_settled(self) -> None:
        if self.view.is_animating():  # the swipe that closed the last view is still moving
            QTimer.singleShot(40, self._stop_when_settled)
            return
        self.view.blockSignals(True)
        self.view.shutdown()

    def _serve_plugin(self) -> QTimer | None:
        """A plugin condition (``ranker = "file.py:Class"``): the version loaded at the start serves the
        whole session (edits to the file are not loaded); a timer finishes the background restart of
        the last good version after a failure. Failures are logged (``ranker_failed``) and said on the
        terminal, never shown to the participant."""
        host = getattr(self.engine, "plugin_host", None)
        if host is None:
            return None
        host.watch_file = False
        self.engine.on("ranker_did_fail", lambda info: _say(
            f"the ranker plugin failed in {info.get('method')}(): {info.get('message')}; "
            f"the feed goes on with {info.get('fallback')}"))
        timer = QTimer(self, interval=250)
        timer.timeout.connect(host.poll)
        timer.start()
        return timer

    def close_plugin(self) -> None:
        """End the plugin's worker processes: when the lab window closes (a swipe that lands after the
        session ended still has the engine decide a slot, never logged)."""
        host = getattr(self.engine, "plugin_host", None)
        if self.plugin_timer is not None:
            self.plugin_timer.stop()
        if host is not None:
            host.close()


class LabSession(QObject):
    """Instructions -> practice -> feed -> end screen for one participant (Qt side of ``run_lab``)."""

    finished = Signal(int)  # exit code, when the window may close

    def __init__(self, study: Study, assignment: Assignment, clips: Sequence[Clip], log, *,  # noqa: ANN001
                 folder: Path | None = None, kiosk: bool = False, pin: str | None = None, muted: bool = False,
                 seed_given: bool = False, practice: bool = True, continuation: Continuation | None = None,
                 hotkey: str = DEFAULT_HOTKEY, fields: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.study = study
        self.fields = dict(fields or {})
        self.consent_utc: str | None = None  # when the participant agreed (consent screen)
        self.refused_run = None  # the record of a refusal
        self.assignment = assignment
        self.clips = list(clips)
        self.log = log
        self.folder = folder
        self.kiosk = kiosk
        self.pin = pin or ""
        self.muted = muted
        self.seed_given = seed_given
        self.continuation = continuation
        warm, bad = resolve_clip_names(assignment.condition.warmup, self.clips, folder)
        if bad:
            raise UserError(f"condition {assignment.condition.name}: warm-up " + "; ".join(bad))
        if continuation is not None:
            warm = [c for c in warm if c.id not in set(continuation.shown)]
        self.warmup = warm
        self.practice_clips = [] if (not practice or continuation is not None or study.practice.clips <= 0
                                     and not study.practice.use) else study.practice_clips(self.clips, folder)
        if kiosk and not self.pin:
            raise UserError("kiosk mode needs the experimenter's PIN: give --pin (or set FEEDAPP_LAB_PIN)")
        self.window = LabWindow()
        self.hotkey = hotkey
        self.guard = KioskGuard(self.window, hotkey, enabled=kiosk)
        self.window.guard = self.guard if kiosk else None
        self.window.on_close = self._window_closing
        self.guard.operator_requested.connect(self.request_operator)
        self.practice_run: FeedRun | None = None
        self.main_run: FeedRun | None = None
        self.pin_dialog: PinDialog | None = None
        self.operator_dialog: OperatorDialog | None = None
        self.exit_code = 0
        self.phase = "instructions"
        self.write_failure: str | None = None  # the writer's message while writing fails
        self.write_failed_ever = False
        self.call_page: ScreenPage | None = None
        instructions = study.instructions.strip() or "Swipe up (or press Down) for the next clip, down (Up) to go back."
        if continuation is not None:
            instructions = "The session continues where it stopped.\n\n" + instructions
        self.instructions_page = ScreenPage("Welcome", instructions, "Start")
        self.instructions_page.setObjectName("instructions_page")
        self.instructions_page.proceed.connect(self._after_instructions)
        self.end_page: ScreenPage | None = None

    # -- showing --------------------------------------------------------------------------------
    def show(self) -> None:
        if self.kiosk:
            self.window.showFullScreen()
            QTimer.singleShot(250, self.window, self._cover_screen)
        else:
            screen = self.window.screen()
            avail = screen.availableGeometry() if screen is not None else None
            self.window.resize(*portrait_size(avail.width() if avail else 0, avail.height() if avail else 0))
            self.window.show()
        if self.study.consent.strip() and self.continuation is None:
            self.phase = "consent"
            self.consent_page = ConsentPage(self.study.consent)
            self.consent_page.answered.connect(self._consent_answered)
            self.window.show_page(self.consent_page)
        else:
            self.window.show_page(self.instructions_page)

    def _consent_answered(self, agreed: bool) -> None:
        import hashlib
        from datetime import datetime, timezone

        if agreed:
            self.consent_utc = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
            self.phase = "instructions"
            self.window.show_page(self.instructions_page)
            return
        # refusal: a session that holds nothing but who refused (participant, condition, study) and when
        a = self.assignment
        kwargs = a.session_kwargs(self.study.skip_threshold_ms)
        rec = new_recorder(self.log, Catalog(self.clips), **kwargs)
        rec.event("consent", given=False, consent_sha256=hashlib.sha256(self.study.consent.encode()).hexdigest())
        rec.end("consent_refused")
        self.refused_run = rec
        self.phase = "end"
        page = ScreenPage("Thank you", "You chose not to take part. Nothing else has been recorded. "
                          "Please let the experimenter know.", None if self.kiosk else "Close")
        page.setObjectName("refused_page")
        page.proceed.connect(self.close)
        self.end_page = page
        self.window.show_page(page)

    def _cover_screen(self) -> None:
        screen = self.window.screen()  # no window manager honours fullscreen on a bare X server
        if screen is not None and self.window.isFullScreen() and self.window.geometry() != screen.geometry():
            self.window.setGeometry(screen.geometry())

    def toggle_fullscreen(self) -> None:
        if self.kiosk:
            return
        if self.window.isFullScreen():
            self.window.showNormal()
        else:
            self.window.showFullScreen()
            QTimer.singleShot(250, self.window, self._cover_screen)

    def leave_fullscreen(self) -> None:
        if not self.kiosk and self.window.isFullScreen():
            self.window.showNormal()

    @property
    def current_run(self) -> FeedRun | None:
        for run in (self.main_run, self.practice_run):
            if run is not None and run.running:
                return run
        return None

    # -- the flow -------------------------------------------------------------------------------
    def _after_instructions(self) -> None:
        if self.practice_clips:
            self.phase = "practice_intro"
            n = len(self.practice_clips)  # the default text counts them: "a few" read wrong for one
            default = ("One clip to get used to swiping. It is not part of the study." if n == 1
                       else f"{n} clips to get used to swiping. They are not part of the study.")
            page = ScreenPage("Practice", self.study.practice.instructions.strip() or default, "Start practice")
            page.setObjectName("practice_page")
            page.proceed.connect(self.start_practice)
            self.window.show_page(page)
        else:
            self.start_main()

    def start_practice(self) -> None:
        self.phase = "practice"
        a = self.assignment
        run = FeedRun(self, catalog=Catalog(self.practice_clips), ranker=PRACTICE_RANKER, params={}, seed=a.seed,
                      warmup=self.practice_clips, views_limit=len(self.practice_clips), seconds_limit=None,
                      recorder_kwargs=a.practice_kwargs(self.study.skip_threshold_ms, PRACTICE_RANKER))
        run.recorder.event(PRACTICE_EVENT, study=self.study.name, study_sha256=self.study.sha256,
                           clips=[c.id for c in self.practice_clips])
        self.practice_run = run
        run.ended.connect(self._practice_ended)
        run.attach()

    def _practice_ended(self, reason: str) -> None:
        if reason != "finished":
            return  # aborted: request_quit / abort handle it
        self.phase = "practice_done"
        page = ScreenPage("Practice done", "Now the real session starts. Watch as you would at home.", "Start")
        page.setObjectName("practice_done_page")
        page.proceed.connect(self.start_main)
        self.window.show_page(page)
        self._refresh_operator_menu()

    def start_main(self) -> None:
        self.phase = "feed"
        a = self.assignment
        limits = self.study.limits
        cont = self.continuation
        views_limit = limits.views
        seconds = limits.seconds
        if cont is not None:
            views_limit = max(1, views_limit - cont.views) if views_limit is not None else None
            seconds = max(10.0, seconds - cont.elapsed_ms / 1000.0) if seconds is not None else None
        run = FeedRun(self, catalog=Catalog(self.clips), ranker=a.condition.ranker, params=dict(a.params or a.condition.params),
                      seed=a.seed, warmup=self.warmup, views_limit=views_limit, seconds_limit=seconds,
                      recorder_kwargs={**a.session_kwargs(self.study.skip_threshold_ms), "fields": self.fields},
                      replay=cont.replay if cont else (), spent_ms=cont.elapsed_ms if cont else 0.0,
                      shown_before=cont.shown if cont else ())
        run.recorder.event(STUDY_EVENT, **a.study_event(self.study.sha256))
        run.recorder.event(
            "lab_session", kiosk=self.kiosk, seed_given=self.seed_given,
            practice_session=self.practice_run.recorder.id if self.practice_run else None,
            warmup=[c.id for c in self.warmup], clips_folder=str(self.folder) if self.folder else None,
            limits={"minutes": limits.minutes, "views": limits.views},
            limits_left={"seconds": seconds, "views": views_limit},
        )
        if self.consent_utc is not None:
            import hashlib

            run.recorder.event("consent", given=True, agreed_utc=self.consent_utc,
                               consent_sha256=hashlib.sha256(self.study.consent.encode()).hexdigest())
        if cont is not None:
            run.recorder.event("continues_session", session_id=cont.session_id, views=cont.views,
                               elapsed_ms=round(cont.elapsed_ms, 1))
        self.main_run = run
        run.ended.connect(self._main_ended)
        run.attach()

    def _main_ended(self, reason: str) -> None:
        if reason != "finished":
            return
        if self.study.questionnaire:
            self.show_questionnaire()
        else:
            self.show_end()
        self._refresh_operator_menu()

    def show_questionnaire(self) -> None:
        self.phase = "questionnaire"
        page = QuestionnairePage(self.study.questionnaire, self.study.questionnaire_intro)
        page.submitted.connect(self._questionnaire_submitted)
        self.questionnaire_page = page
        self.window.show_page(page)

    def _questionnaire_submitted(self, answers: list) -> None:
        from feedapp.core.records import QuestionnaireAnswer

        rec = self.main_run.recorder
        ns = time.monotonic_ns()
        for position, (q, answer, value) in enumerate(answers):
            self.log.questionnaire_answer(QuestionnaireAnswer(rec.id, q.id, position, q.type, q.text, answer, value,
                                                              ns, rec.utc(ns)))
        self.show_end()

    def show_end(self) -> None:
        self.phase = "end"
        button = None if self.kiosk else "Close"
        page = ScreenPage("Thank you!", self.study.debrief.strip() or
                          "The session is over. Please let the experimenter know you have finished.", button)
        page.setObjectName("end_page")
        if self.study.debrief_card:  # [study] debrief_card = false: no card of what the feed learned
            page.extra.addSpacing(20)
            page.extra.addWidget(self._debrief_card(page))
        page.proceed.connect(self.close)
        self.end_page = page
        self.window.show_page(page)

    def _debrief_card(self, parent):  # noqa: ANN001, ANN202
        engine = self.main_run.engine if self.main_run is not None else None
        profile = engine.profile() if engine is not None else {}
        # HOOK: the profile panel's end card (feedapp.ui.panels.end_card(engine, parent) -> QWidget), when built
        import importlib
        import importlib.util

        if engine is not None and importlib.util.find_spec("feedapp.ui.panels") is not None:
            panels = importlib.import_module("feedapp.ui.panels")
            if hasattr(panels, "end_card"):
                return panels.end_card(engine, parent)
        learns = bool(getattr(engine.ranker, "is_learner", True)) if engine is not None else True
        return TopicsCard(profile, parent, learns=learns, ranker=engine.ranker.name if engine is not None else "")

    # -- the research log's health -------------------------------------------------------------
    def on_log_status(self, kind: str, message: str) -> None:
        """The writer's status (GUI thread). A lock only delays writing: the session goes on. A failed
        write (full disk, read-only, I/O error) stops the session at once: the participant sees a screen
        without technical words, the experimenter the details (terminal and operator menu)."""
        if kind == "fatal":
            first = self.write_failure is None and not self.write_failed_ever
            self.write_failure = message
            self.write_failed_ever = True
            if first:
                self._stop_for_write_failure(message)
            _say(self.operator_report())
        elif kind == "ok" and self.write_failed_ever:
            self.write_failure = None
            _say(self.operator_report())
        else:
            _say(message)

    def _stop_for_write_failure(self, message: str) -> None:
        run = self.current_run
        if run is not None:
            run.recorder.event("recording_failed", message=message, phase=self.phase)
            run.end("error")
        self.phase = "write_failure"
        for dialog in (self.pin_dialog, self.operator_dialog):
            if dialog is not None and dialog.isVisible():
                dialog.reject()
        page = ScreenPage("Please call the experimenter",
                          "The session has stopped.\nPlease call the experimenter.\n\nThank you for waiting.", None)
        page.setObjectName("call_experimenter_page")
        self.call_page = page
        self.window.show_page(page)

    def operator_report(self) -> str:
        """For the experimenter: what failed, what is safe in the file (read back), what to do."""
        from feedapp.store.log import written_counts

        path = self.log.path
        lines = [f"RECORDING FAILED: {self.write_failure}." if self.write_failure else
                 f"Writing to {path} works again after the failure."]
        for label, run in (("practice session", self.practice_run), ("session", self.main_run)):
            if run is None:
                continue
            r = run.recorder
            c = written_counts(path, r.id)
            if c is None:
                lines.append(f"The {label} {r.id[:8]}: {path} cannot be read back; what it holds is not known.")
            else:
                end = "its end is recorded" if c["ended"] else "its end is not recorded yet"
                lines.append(f"Safe in {path}: {label} {r.id[:8]} with {c['views']} of its {r.views_closed} "
                             f"closed views ({c['impressions']} impressions, {c['events']} events); {end}.")
        held = self.log.unwritten
        if held:
            lines.append(f"Held in memory, not written: {held} record(s). The app tries again every "
                         f"{self.log.RETRY_FAILED_S:g} s and writes them as soon as it can; closing the app "
                         "loses what is still held.")
        else:
            lines.append("Nothing is held in memory: everything recorded is in the file.")
        if self.write_failure:
            lines.append("What to do: make the disk writable again (free space, remount it read-write, or fix "
                         "the drive); wait until this says everything is in the file; then open the "
                         f"experimenter menu ({self.hotkey}) and exit, run `feedapp check --db {path}`, "
                         "and start a new session for this participant.")
        else:
            lines.append(f"What to do: open the experimenter menu ({self.hotkey}) and exit, run "
                         f"`feedapp check --db {path}`, and start a new session for this participant.")
        return "\n".join(lines)

    # -- the experimenter -----------------------------------------------------------------------
    def request_operator(self) -> None:
        """The hotkey: ask the PIN (when there is one), then show what the experimenter can do."""
        if (self.pin_dialog is not None and self.pin_dialog.isVisible()) or \
                (self.operator_dialog is not None and self.operator_dialog.isVisible()):
            return
        run = self.current_run
        if run is not None:
            run.hold_for_dialog("pin" if self.pin else "operator_menu")
        if not self.pin:
            self._open_operator_menu()
            return
        self.pin_dialog = PinDialog(lambda pin: hmac.compare_digest(pin.encode(), self.pin.encode()), self.window)
        self.pin_dialog.refused.connect(self._pin_refused)
        self.pin_dialog.accepted.connect(self._open_operator_menu)
        self.pin_dialog.rejected.connect(self._release_dialog)
        self.pin_dialog.open()

    def _release_dialog(self) -> None:
        run = self.current_run
        if run is not None:
            run.release_dialog()

    def progress_text(self) -> str:
        a = self.assignment
        text = f"Participant {a.participant}, condition {a.condition.name} ({a.condition.ranker})"
        if self.main_run is not None:
            return text + f"; {self.main_run.progress()}"
        return text + f"; now: {self.phase.replace('_', ' ')}"

    def operator_state(self) -> str:
        """Where the session stands, for the experimenter's menu while no feed runs."""
        if self.phase in ("consent", "instructions", "practice_intro", "practice_done"):
            done = " (the practice block is recorded)" if self.phase == "practice_done" else ""
            return f"The session has not started yet{done}: Exit records no session of the feed."
        if self.phase == "questionnaire":
            return ("The feed has ended and is recorded; the participant is answering the questionnaire: "
                    "Exit leaves it unanswered.")
        return "The session has ended."

    def _pin_refused(self) -> None:
        run = self.current_run
        if run is not None:
            run.recorder.event("operator_pin_refused")
        _say("wrong experimenter PIN")

    def _open_operator_menu(self) -> None:
        run = self.current_run
        self.operator_dialog = OperatorDialog(running=run is not None, paused=bool(run and run.paused_by_operator),
                                              notice=self.operator_report() if self.write_failed_ever else "",
                                              info=self.progress_text(), state=self.operator_state(),
                                              parent=self.window)
        self.operator_dialog.accepted.connect(self._operator_chosen)
        self.operator_dialog.rejected.connect(self._release_dialog)
        self.operator_dialog.open()

    def _refresh_operator_menu(self) -> None:
        """A limit ended the feed (or the practice block) while the experimenter's menu was open: the menu
        said "The session is running ... 0:12 left" and offered Pause and Abort for a session that had
        ended. It is opened again for where the session stands now (the old one's rejection releases
        nothing: no run is running)."""
        old = self.operator_dialog
        if old is None or not old.isVisible():
            return
        old.reject()
        self._open_operator_menu()

    def _operator_chosen(self) -> None:
        self.operator_action(self.operator_dialog.chosen or "")
        self._release_dialog()

    def operator_action(self, action: str) -> None:
        run = self.current_run
        if action == "pause" and run is not None:
            run.pause()
        elif action == "resume" and run is not None:
            run.resume()
        elif action == "abort":
            if run is not None:
                run.recorder.event("operator_abort", phase=self.phase)
                run.end("quit")
            self.exit_code = 0
            self.close(force=True)
        elif action == "exit":
            self.close(force=True)

    # -- leaving --------------------------------------------------------------------------------
    def request_quit(self) -> None:
        """Q in a lab session without kiosk mode: end the session as ``quit`` and close."""
        if not self.kiosk:
            self.close(force=True)

    def stop(self, reason: str) -> None:
        """End the running session (if any) with ``reason`` and close: a signal (Ctrl+C, SIGHUP, SIGTERM)."""
        run = self.current_run
        if run is not None:
            run.end(reason)
        self.close(force=True)

    def close(self, force: bool = False) -> None:
        if force or not self.kiosk:
            self.guard.unlock()
        self.window.close()

    def _window_closing(self) -> None:
        run = self.current_run
        if run is not None:
            run.end("quit")
        for r in (self.practice_run, self.main_run):
            if r is not None:
                r.view.shutdown()
                r.close_plugin()
        self.guard.remove()
        self.finished.emit(self.exit_code)
