#!/usr/bin/env python3
"""A second real RTMP publisher for the push tests: GStreamer's rtmp2sink (Debian
gstreamer1.0-plugins-bad) pushing a live test picture (OpenH264) and tone (AAC) in FLV.

Usage: rtmp_publisher.py URL
Prints "playing" once the pipeline runs; exits when the server closes the connection."""
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

Gst.init(None)
url = sys.argv[1]
pipeline = Gst.parse_launch(
    "videotestsrc is-live=true pattern=ball "
    "! video/x-raw,width=320,height=240,framerate=25/1 "
    "! openh264enc gop-size=25 ! h264parse ! queue ! mux. "
    "audiotestsrc is-live=true ! audioconvert ! audioresample ! voaacenc ! aacparse ! queue ! mux. "
    f"flvmux name=mux streamable=true ! rtmp2sink location={url}"
)
loop = GLib.MainLoop()


def on_message(_bus, message):
    if message.type in (Gst.MessageType.EOS, Gst.MessageType.ERROR):
        if message.type == Gst.MessageType.ERROR:
            err, _ = message.parse_error()
            print(f"error: {err.message}", file=sys.stderr, flush=True)
        loop.quit()
    elif message.type == Gst.MessageType.STATE_CHANGED and message.src == pipeline:
        _, new, _ = message.parse_state_changed()
        if new == Gst.State.PLAYING:
            print("playing", flush=True)


bus = pipeline.get_bus()
bus.add_signal_watch()
bus.connect("message", on_message)
pipeline.set_state(Gst.State.PLAYING)
try:
    loop.run()
finally:
    pipeline.set_state(Gst.State.NULL)
