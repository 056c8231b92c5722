"""Commands for playing: ``serve`` (OSC server), ``live`` (server + Pd patch), ``replay`` (offline duet)."""

from __future__ import annotations

from pathlib import Path

import typer

from rlimpro.cli._common import console
from rlimpro.layout import Layout

MODEL_HELP = "A policy.onnx written by `rlimpro export` (e.g. 00_synths/fm/policy.onnx)."


def serve(
    model: Path = typer.Argument(None, help=MODEL_HELP, show_default=False),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 opens it to the network)."),
    port: int = typer.Option(6666, "--port", help="UDP port receiving /rlimpro/target, /rlimpro/reset, /rlimpro/ping."),
    reply_host: str = typer.Option("127.0.0.1", "--reply-host", help="Host that receives /rlimpro/params and /rlimpro/pong."),
    reply_port: int = typer.Option(6667, "--reply-port", help="UDP port of the reply host."),
    warm_ms: float = typer.Option(2.0, "--warm-ms", help="While idle, run the model every this many ms so that the next "
                                                        "frame finds the caches warm (~6-10 % of a core while idle; 0: off)."),
    engine: str = typer.Option("auto", "--engine", help="Who answers targets: c (the C hot path, built by "
                                                       "`make hotloop`), python, or auto (c when built). "
                                                       "While listening, OSC is answered in Python."),
    stats: bool = typer.Option(False, "--stats", help="Print one status line per second: messages/s, median/p99 decision "
                                                      "time; while listening, the work per hop as a share of the hop."),
    listen: bool = typer.Option(False, "--listen", help="Hear the musician from an audio input (needs the audio extra: pip install 'rlimpro\\[audio]') and "
                                                        "send /rlimpro/params every hop."),
    device: str = typer.Option(None, "--device", help="Audio input for --listen: its index or (part of) its name "
                                                      "(--list-devices); default: the system's default input."),
    channel: int = typer.Option(1, "--channel", help="Input channel to hear with --listen, from 1."),
    send_features: bool = typer.Option(False, "--send-features", help="While listening, also send /rlimpro/features "
                                                                      "(the F descriptors heard) every hop."),
    list_devices: bool = typer.Option(False, "--list-devices", help="List the audio inputs and exit."),
    listen_file: Path = typer.Option(None, "--listen-file", help="Hear this recording instead of an input, through the "
                                                                 "same code (in real time), then stop.", show_default=False),
    fast: bool = typer.Option(False, "--fast", help="With --listen-file: as fast as possible instead of in real time."),
) -> None:
    """Serve a policy over OSC/UDP: musician descriptors in, synth parameters out (Ctrl-C stops).

    With --listen (or --listen-file) the server hears the musician itself and sends the params
    every hop; OSC targets, resets and pings are answered too, on the same state.
    """
    from rlimpro.errors import RlimproError

    import sys

    def say(line: str) -> None:  # flushed: a host or a log reading the server's lines sees them at once
        console.print(line, highlight=False, markup=False, soft_wrap=True)
        sys.stdout.flush()

    if list_devices:
        from rlimpro.live.capture import list_devices as inputs

        for line in inputs():
            say(line)
        return
    if model is None:
        raise RlimproError("serve needs a policy: rlimpro serve 00_synths/SYNTH/policy.onnx (or a kit's policy.onnx)")
    if listen and listen_file is not None:
        raise RlimproError("--listen and --listen-file both name what to hear; pass one of them")
    if not (listen or listen_file is not None) and (device is not None or channel != 1 or send_features or fast):
        raise RlimproError("--device, --channel, --send-features and --fast go with --listen or --listen-file")
    if fast and listen_file is None:
        raise RlimproError("--fast goes with --listen-file (a live input cannot run faster than real time)")
    if listen or listen_file is not None:
        from rlimpro.live.listen import serve_listening

        if engine == "c":
            raise RlimproError("--engine c does not apply while listening (OSC is answered in Python beside the audio)")
        counts = serve_listening(model, device=device, channel=channel, listen_file=listen_file, fast=fast,
                                 send_features=send_features, host=host, port=port, reply_host=reply_host,
                                 reply_port=reply_port, warm_ms=warm_ms, stats=stats, write=say)
        say(f"stopped: {counts['hops']} hops heard and answered ({counts['refused']} held), {counts['targets']} OSC "
            f"targets, {counts['dropped']} dropped")
        return
    import signal

    # Ctrl-C must interrupt the serving thread's blocking recv: every other thread (onnxruntime's, the
    # --stats reporter) is created with SIGINT blocked, so the kernel cannot hand the signal to one of them
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    from rlimpro.live.server import serve as run

    counts = run(model, host=host, port=port, reply_host=reply_host, reply_port=reply_port, warm_ms=warm_ms, engine=engine, stats=stats,
                 write=say, on_ready=lambda _: signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}))
    console.print(f"stopped: {counts['targets']} targets, {counts['sent']} replies, "
                  f"{counts['dropped']} dropped, {counts['bad_output']} non-finite outputs withheld", highlight=False, soft_wrap=True)


def live(
    synth: str = typer.Option(..., "--synth", "-s", help="Synth name: the folder 00_synths/NAME/ (played by Pd)."),
    model: Path = typer.Option(None, "--model", "-m", help="The policy.onnx; default 00_synths/NAME/policy.onnx."),
    mic: bool = typer.Option(False, "--mic", help="The musician is Pd's audio input 1 ([adc~ 1])."),
    audio: Path = typer.Option(None, "--input", "-i", help="The musician is this recording, played by Pd ([readsf~]); "
                                                           "default (without --mic): the first recording of the policy's corpus."),
    inside: bool = typer.Option(False, "--inside", help="Decide inside Pd with the [rlimpro_policy] external "
                                                        "(`make externals`) instead of the OSC server."),
    port: int = typer.Option(6666, "--port", help="UDP port of the server (Pd sends targets there)."),
    reply_port: int = typer.Option(6667, "--reply-port", help="UDP port Pd listens on for params."),
    record: Path = typer.Option(None, "--record", help="Record both sides (musician left, agent right) to this "
                                                      "stereo WAV from the start until Pd quits."),
    nogui: bool = typer.Option(False, "--nogui", help="Run Pd without its window (the default when $DISPLAY is unset)."),
    no_audio: bool = typer.Option(False, "--no-audio", help="Run Pd without an audio device (-nosound); a recording "
                                                            "is still heard and answered, silently."),
    jack: bool = typer.Option(False, "--jack", help="Audio through a running JACK server (Pd -jack, client 'rlimpro')."),
    batch: bool = typer.Option(False, "--batch", help="No audio, as fast as the CPU allows, until the recording "
                                                      "ends (needs --inside; e.g. with --record)."),
    seconds: float = typer.Option(None, "--seconds", help="Stop after this many seconds (default: until Pd is closed)."),
    intent: float | None = typer.Option(None, "--intent", help="Where the patch's intent slider starts, in [-1, 1], for "
                                                              "policies that take one: 1 imitates, 0 holds its centre, "
                                                              "-1 mirrors (default: the policy's)."),
    calm: float | None = typer.Option(None, "--calm", help="Where the patch's calm slider starts, in [-1, 1], for "
                                                          "policies that take one: the move costs the agent weighs "
                                                          "times 1 + calm/2; -1 busier, 0 as trained, 1 calmer "
                                                          "(default: the policy's, 0)."),
) -> None:
    """Play live: Pd listens to a musician (microphone or recording) and the agent's synth answers."""
    from rlimpro.errors import RlimproError
    from rlimpro.live.play import play_live

    if mic and audio is not None:
        raise RlimproError("--mic and --input both name the musician; pass one of them")
    if jack and no_audio:
        raise RlimproError("--jack and --no-audio contradict each other; pass one of them")
    model = model or Layout().policy(synth)
    counts, _ = play_live(synth, model, root=Path("."), audio=audio, mic=mic, port=port, reply_port=reply_port,
                          inside=inside, gui=False if nogui else None, sound=not no_audio, jack=jack, batch=batch,
                          record=record, seconds=seconds, intent=intent, calm=calm,
                          write=lambda line: console.print(line, highlight=False, markup=False, soft_wrap=True))
    done = f"; recorded {record}" if record else ""
    console.print(f"stopped: {counts['targets']} targets, {counts['sent']} replies, {counts['dropped']} dropped{done}"
                  if counts else f"stopped{done}", highlight=False, soft_wrap=True)


def replay(
    audio: Path = typer.Argument(..., help="The musician's recording (wav, flac, ogg, mp3, aiff).", show_default=False),
    model: Path = typer.Option(..., "--model", "-m", help=MODEL_HELP, show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Stereo WAV to write (musician left, agent right); "
                                                      "the plot goes beside it as .png.", show_default=False),
    no_plot: bool = typer.Option(False, "--no-plot", help="Skip the plot of target vs agent descriptors."),
    intent: float | None = typer.Option(None, "--intent", help="Intent in [-1, 1] for policies that take one: 1 imitates, "
                                                              "0 holds its centre, -1 mirrors (default: the policy's)."),
    calm: float | None = typer.Option(None, "--calm", help="Movement knob in [-1, 1] for policies that take one: the move "
                                                          "costs the agent weighs times 1 + calm/2; -1 busier, 0 as trained, "
                                                          "1 calmer (default: 0)."),
) -> None:
    """Offline duet: run the policy frame by frame over a recording, as live, and render the agent with Pd."""
    from rlimpro.live.duet import replay as stage

    paths = stage(model, audio, out, root=Path("."), plot=not no_plot, intent=intent, calm=calm)
    console.print(f"wrote {', '.join(str(p) for p in paths)}", highlight=False, soft_wrap=True)


def kit(
    synth: str = typer.Option(..., "--synth", "-s", help="Synth name: the folder 00_synths/NAME/ with its policy.onnx."),
    out: Path = typer.Option(..., "--out", "-o", help="The kit folder to write (e.g. fm-kit/).", show_default=False),
    no_wheel: bool = typer.Option(False, "--no-wheel", help="Skip building the core wheel (the kit then needs rlimpro "
                                                            "installed some other way)."),
) -> None:
    """Write a performer's kit: policy, synth patch, Pd and Max patches, the core wheel and a README."""
    from rlimpro.kit import build_kit

    say = lambda line: console.print(line, highlight=False, markup=False, soft_wrap=True)  # noqa: E731
    files = build_kit(synth, out, root=Path("."), wheel=not no_wheel, write=say)
    say(f"wrote {len(files)} files to {out}/ (see {out}/README.md)")


def register(app: typer.Typer) -> None:
    """Add the live commands to ``app``."""
    app.command("serve")(serve)
    app.command("kit")(kit)
    app.command("live")(live)
    app.command("replay")(replay)
