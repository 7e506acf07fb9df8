#!/usr/bin/python3
"""A real RTSP server for the live tests: GStreamer's RTSP server (python3-gi,
gir1.2-gst-rtsp-server-1.0) serving a live H.264 test picture at rtsp://127.0.0.1:PORT/test.
Usage: rtsp_server.py PORT   (prints "ready" once it listens)"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(sys.argv[1])
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    "( videotestsrc is-live=true pattern=smpte ! video/x-raw,width=320,height=240,framerate=25/1 "
    "! videoconvert ! openh264enc gop-size=25 ! h264parse config-interval=1 "
    "! rtph264pay name=pay0 pt=96 )"
)
factory.set_shared(True)
server.get_mount_points().add_factory("/test", factory)
if server.attach(None) == 0:
    sys.exit("cannot listen")
print("ready", flush=True)
GLib.MainLoop().run()
