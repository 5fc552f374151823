"""Replay real charging-session files through the HTTP API, as hubs would."""

from nerava.replay.client import NeravaClient, ReplayAborted
from nerava.replay.parsing import FileFormat, ParsedFile, read_sessions
from nerava.replay.report import Report, build_report, encode_report
from nerava.replay.runner import Replayed, replay_sessions

__all__ = [
    "FileFormat",
    "NeravaClient",
    "ParsedFile",
    "ReplayAborted",
    "Replayed",
    "Report",
    "build_report",
    "encode_report",
    "read_sessions",
    "replay_sessions",
]
