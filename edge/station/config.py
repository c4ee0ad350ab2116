"""The station configuration: one TOML file validated by pydantic, with command-line overrides.

Every option has a default that serves a single station, except the two things only the operator
knows (the watch folder and the model bundle). Unknown keys and bad values are errors that name the
key, so a typo in ``station.toml`` is caught by ``auroral run --check-config`` and not at 3 a.m.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from auroral.edge.backends import BackendName
from auroral.edge.bundle import PrecisionChoice
from auroral.edge.capture_time import DEFAULT_FORMAT, DEFAULT_REGEX, zone
from auroral.edge.contract import STATION_ID, check_filter, check_level
from auroral.edge.errors import UserError
from auroral.edge.logs import LogFormat
from auroral.edge.sky import DEFAULT_MAX_MOON_ILLUMINATION, DEFAULT_MAX_SUN_ELEVATION
from auroral.edge.station import presets

if TYPE_CHECKING:
    from apprise import NotifyBase

log = logging.getLogger("auroral.config")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _default_state_dir() -> Path:
    return Path(os.environ.get("STATE_DIRECTORY", "/var/lib/auroral").split(":")[0])


class WatchConfig(_Section):
    dirs: list[Path] = Field(min_length=1, description="folders the camera writes frames into")
    preset: presets.PresetName = Field(default="plain", description="the camera program's conventions: defaults "
                                                                     "for the keys below (docs/STATION.md)")
    patterns: list[str] = Field(default=["*.jpg", "*.jpeg", "*.png", "*.fits", "*.fit", "*.fts"],
                                        description="file name patterns (case-insensitive) that are frames")
    recursive: bool = False
    exclude_dirs: list[str] = Field(default=[], description="names of sub-folders whose files are never frames "
                                                            "(a camera program's thumbnails)")
    capture_time_regex: str = Field(default=DEFAULT_REGEX, description="first group holds the capture time")
    capture_time_format: str = Field(default=DEFAULT_FORMAT, description="strptime format of that group (read in "
                                                                          "timezone)")
    timezone: str = Field(default="UTC", description="IANA zone of times in names and of EXIF without an offset")
    folder_retry_max_s: float = Field(default=30.0, gt=0,
                                      description="longest wait between tries of an unreadable folder")
    settle_s: float = Field(default=1.0, gt=0, description="a file seen only as created (moved in from elsewhere) is "
                                                            "taken this long after, unless closed first")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, name: str) -> str:
        zone(name)  # ValueError names the zone
        return name


class ModelConfig(_Section):
    bundle: Path
    backend: BackendName = "ort-cpu"
    precision: PrecisionChoice = Field(
        default="auto", description="auto: int8 when the bundle's export measured < 0.5 pp accuracy cost, else fp32")
    threads: int | None = Field(default=None, ge=1, description="inference threads (default: ONNX Runtime's choice, "
                                                                "or every allowed CPU when pinned)")
    pin_threads: bool = Field(default=True, description="ort-cpu on Linux: pin each inference thread to its own CPU, "
                                                        "so the scheduler cannot stack them on one core")
    batch_size: int = Field(default=8, ge=1, le=256, description="largest micro-batch when a backlog waits")
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0, description="a frame whose top probability is lower "
                                                                        "is published as uncertain and decides nothing")


class MqttConfig(_Section):
    host: str = "localhost"
    port: int = Field(default=1883, ge=1, le=65535)
    prefix: str = Field(default="auroral", description="first topic level of every topic the station publishes")
    client_id: str | None = None
    protocol: Literal["v5", "v311"] = Field(default="v5", description="v5 falls back to 3.1.1 if the broker refuses it")
    keepalive_s: int = Field(default=30, ge=1)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    reconnect_min_s: float = Field(default=1.0, gt=0)
    reconnect_max_s: float = Field(default=60.0, gt=0)
    username: str | None = None
    password_file: Path | None = Field(default=None, description="file holding the password (or a systemd credential)")
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    inflight: int = Field(default=20, ge=1, le=1000, description="unacknowledged messages in flight")
    rate_per_s: float = Field(default=50.0, gt=0,
                              description="spool backlog send rate, so broker queues do not overflow")
    thumbnails: bool = Field(default=False, description="publish a small JPEG of the newest frame (and of the frame "
                                                        "that started an onset) on <prefix>/<station>/thumbnail")
    thumbnail_max_side: int = Field(default=320, ge=16, le=4096, description="longer side of a thumbnail, pixels")
    thumbnail_max_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024,
                                     description="size cap: re-encoded smaller until it fits, else not published")

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, prefix: str) -> str:
        return check_level(prefix)  # subscribers find the station as the topic's second level

    @model_validator(mode="after")
    def _pairs(self) -> MqttConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (client certificate)")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        if self.tls:  # read only when connecting: a missing one would fail every connection, not the start
            for key, path in (("ca_file", self.ca_file), ("cert_file", self.cert_file), ("key_file", self.key_file)):
                if path is not None and not path.is_file():
                    raise ValueError(f"{key} {path} does not exist (needed with tls = true)")
        return self

    @property
    def password_in_clear(self) -> bool:
        """A login without TLS: the username and password cross the network readable (allowed, and warned of)."""
        return self.username is not None and not self.tls

    def resolved_password_file(self) -> Path | None:
        """The configured file, else the systemd credential ``mqtt-password`` when it exists."""
        if self.password_file is not None:
            return self.password_file
        credentials = os.environ.get("CREDENTIALS_DIRECTORY")
        if credentials and (Path(credentials) / "mqtt-password").is_file():
            return Path(credentials) / "mqtt-password"
        return None

    def read_password(self) -> str | None:
        """The password, read afresh (a corrected file is used without a restart); OSError when unreadable."""
        path = self.resolved_password_file()
        return None if path is None else path.read_text().strip()


class SpoolConfig(_Section):
    max_messages: int = Field(default=1_000_000, ge=100, description="oldest messages dropped past this (logged)")
    max_age_s: float = Field(default=30 * 86400, gt=0, description="messages older than this are dropped (logged)")


class FramesConfig(_Section):
    retries: int = Field(default=5, ge=0, description="retries of an unreadable frame before quarantine")
    retry_base_s: float = Field(default=1.0, gt=0, description="first retry delay; doubles each time")
    quarantine: Literal["move", "list"] = "move"
    quarantine_dir: Path | None = Field(default=None, description="default: <state_dir>/quarantine")


class CameraConfig(_Section):
    circle: Literal["auto"] | tuple[float, float, float] = Field(
        default="auto", description='the fisheye circle [cx, cy, r] in pixels of the full-size frames, or "auto": '
                                    "found from the newest frames and kept in state_dir/camera.json")

    @field_validator("circle")
    @classmethod
    def _circle(cls, circle: str | tuple[float, float, float]) -> str | tuple[float, float, float]:
        if not isinstance(circle, str) and (circle[2] <= 0 or circle[0] < 0 or circle[1] < 0):
            raise ValueError("expected [cx, cy, r] with a positive radius and the centre in the frame")
        return circle


class TriggerConfig(_Section):
    labels: list[str] | None = Field(default=None, description="classes whose frames count towards a breakup "
                                                               "onset (default: the bundle's onset classes)")
    threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    n: int = Field(default=3, ge=1, description="breakup frames needed ...")
    m: int = Field(default=5, ge=1, description="... among the last m frames")
    cooldown_s: float = Field(default=900.0, ge=0, description="no second trigger this soon after one")
    max_per_hour: int = Field(default=6, ge=1, description="hard rate limit on local capture triggers")
    duration_s: float = Field(default=600.0, gt=0, description="high-rate capture duration asked of the camera")
    max_age_s: float = Field(default=300.0, gt=0, description="frames captured longer ago than this (a backlog, a "
                                                              "replayed night) never trigger; their alerts say "
                                                              "live: false")
    command: list[str] | None = Field(default=None, description="local command run on onset, e.g. a camera script")
    command_timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _window(self) -> TriggerConfig:
        if self.n > self.m:
            raise ValueError("n must be <= m")
        return self

    @field_validator("command")
    @classmethod
    def _runnable(cls, command: list[str] | None) -> list[str] | None:
        """The command must be there and executable now, not at the first breakup of the winter."""
        if command is not None:
            if not command or not command[0]:
                raise ValueError("command is empty: give the program and its arguments, or leave it out")
            if shutil.which(command[0]) is None:
                raise ValueError(f"{command[0]!r} is not an executable file (give a full path, or one on PATH; "
                                 "check its execute permission)")
        return command


class AuroraConfig(_Section):
    labels: list[str] | None = Field(default=None, description="classes that count as aurora for aurora_on/"
                                                               "aurora_off (default: the bundle's auroral classes)")
    frames: int = Field(default=5, ge=1, description="consecutive frames that agree before the state flips")


class ExternalConfig(_Section):
    topics: list[str] = Field(default=[], description="alert topics of other stations, e.g. auroral/+/alerts")
    arm_types: list[str] = ["breakup_onset"]
    min_confidence: float = Field(default=0.8, ge=0.0, le=1.0, description="alerts without a confidence never arm")
    max_age_s: float = Field(default=300, gt=0, description="alerts whose `at` is older (or this far ahead) never arm")
    max_bytes: int = Field(default=4096, ge=64, description="larger payloads are dropped unread")
    cooldown_s: float = Field(default=900.0, ge=0, description="no second arming this soon after one (a budget of "
                                                               "its own: arming never delays a local trigger)")
    max_per_hour: int = Field(default=4, ge=1, description="hard rate limit on capture triggers armed from outside")

    @field_validator("topics")
    @classmethod
    def _filters(cls, topics: list[str]) -> list[str]:
        return [check_filter(t) for t in topics]


class SiteConfig(_Section):
    latitude: float = Field(ge=-90.0, le=90.0, description="degrees north")
    longitude: float = Field(ge=-180.0, le=180.0, description="degrees east")
    elevation_m: float = Field(default=0.0, ge=-500.0, le=9000.0, description="metres above sea level")


class SkyConfig(_Section):
    max_sun_elevation: float = Field(default=DEFAULT_MAX_SUN_ELEVATION, ge=-18.0, le=0.0,
                                     description="the sun at or below this is night (-12: nautical twilight)")
    classify: Literal["night", "always"] = Field(default="night", description="whether the model runs on frames "
                                                                              "outside night (they never decide)")
    max_moon_illumination: float = Field(default=DEFAULT_MAX_MOON_ILLUMINATION, ge=0.0, le=1.0,
                                         description="a moon up and brighter than this makes frames moonlit")
    moonlit_triggers: bool = Field(default=False, description="whether a breakup seen in moonlit frames may trigger")


class JournalConfig(_Section):
    keep_days: float = Field(default=30.0, gt=0, description="journal rows older than this are removed once their "
                                                             "file is gone; rows of files still present are kept")
    prune_every_s: float = Field(default=3600.0, gt=0,
                                 description="how often the journal is pruned (and once at start)")


class NotifyConfig(_Section):
    urls: list[str] = Field(default=[], description="Apprise URLs (ntfy://, mailto://, tgram://, matrix://, "
                                                    "discord://, json://, ...) told of breakup_onset and aurora_on")
    cooldown_s: float | None = Field(default=None, ge=0, description="no second notification of one alert type this "
                                                                     "soon (default: [trigger] cooldown_s)")
    timeout_s: float = Field(default=10.0, gt=0, description="each service's connect and read timeout")

    @field_validator("urls")
    @classmethod
    def _understood(cls, urls: list[str]) -> list[str]:
        """Each URL must be one Apprise can send to, checked now rather than at the first breakup; the error
        shows only the start of a URL, since URLs carry tokens and passwords."""
        for index, url in enumerate(urls):
            if apprise_service(url) is None:
                raise ValueError(f"entry {index + 1} ({masked_url(url)}) is not a URL Apprise understands "
                                 "(see its list of services and their URL forms)")
        return urls


class HomeAssistantConfig(_Section):
    enabled: bool = Field(default=False, description="announce the station to Home Assistant (MQTT discovery) on "
                                                     "every connect; false does not remove what was announced")
    discovery_prefix: str = Field(default="homeassistant", description="Home Assistant's discovery prefix")

    @field_validator("discovery_prefix")
    @classmethod
    def _prefix(cls, prefix: str) -> str:
        return check_level(prefix)


def apprise_service(url: str) -> NotifyBase | None:
    """Apprise's service object for one URL, or None when Apprise cannot parse it. Apprise's own log is muted
    meanwhile: it prints a URL it cannot parse in full, tokens and passwords included."""
    apprise_log = logging.getLogger("apprise")
    muted, apprise_log.disabled = apprise_log.disabled, True
    try:
        import apprise

        return apprise.Apprise.instantiate(url.strip())
    except ImportError as exc:
        raise ValueError("notifications need apprise: pip install 'auroral[edge]'") from exc
    finally:
        apprise_log.disabled = muted


def masked_url(url: str) -> str:
    """The scheme and the first few characters of ``url``: enough to tell which one, never a whole secret."""
    scheme, sep, rest = url.strip().partition("://")
    return f"{scheme}{sep}{rest[:3]}…" if sep else f"{url.strip()[:3]}…"


class StationConfig(_Section):
    station: str = Field(default="station", pattern=STATION_ID)
    state_dir: Path = Field(default_factory=_default_state_dir)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: LogFormat = Field(default="logfmt", description="logfmt (key=value) or json (one object per line, "
                                                                "for journald/Loki pipelines)")
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9108, ge=0, le=65535, description="0 disables the HTTP endpoint")
    watch: WatchConfig
    model: ModelConfig
    mqtt: MqttConfig = MqttConfig()
    spool: SpoolConfig = SpoolConfig()
    frames: FramesConfig = FramesConfig()
    camera: CameraConfig = CameraConfig()
    trigger: TriggerConfig = TriggerConfig()
    aurora: AuroraConfig = AuroraConfig()
    external: ExternalConfig = ExternalConfig()
    journal: JournalConfig = JournalConfig()
    site: SiteConfig | None = Field(default=None, description="where the camera is: without it the sky is unknown "
                                                              "and every frame counts as night")
    sky: SkyConfig = SkyConfig()
    notify: NotifyConfig = NotifyConfig()
    homeassistant: HomeAssistantConfig = HomeAssistantConfig()

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, raw: Any) -> Any:
        return presets.apply(raw)  # the camera program's defaults, under the keys set explicitly

    @field_validator("state_dir")
    @classmethod
    def _absolute_state(cls, path: Path) -> Path:
        return path.absolute()

    @field_validator("watch")
    @classmethod
    def _watch(cls, watch: WatchConfig) -> WatchConfig:
        watch.dirs = [d.absolute() for d in watch.dirs]  # journal keys must not depend on the working directory
        try:
            if re.compile(watch.capture_time_regex).groups < 1:
                raise ValueError("capture_time_regex needs one group")
        except re.error as exc:
            raise ValueError(f"capture_time_regex is not a valid regex ({exc})") from exc
        return watch

    def with_classes(self, classes: list[str], auroral: list[str], onset: list[str]) -> StationConfig:
        """This config with the class sets the bundle defines filled in where the file left them out, checked
        against the bundle's classes: a label the model cannot give is a one-line start-up error."""
        trigger = self.trigger.labels if self.trigger.labels is not None else onset
        aurora = self.aurora.labels if self.aurora.labels is not None else auroral
        for key, labels in (("trigger.labels", trigger), ("aurora.labels", aurora)):
            unknown = [label for label in labels if label not in classes]
            if unknown:
                raise UserError(f"{key}: {', '.join(unknown)} not among the bundle's classes "
                                f"({', '.join(classes)})")
        return self.model_copy(update={"trigger": self.trigger.model_copy(update={"labels": trigger}),
                                       "aurora": self.aurora.model_copy(update={"labels": aurora})})

    @property
    def quarantine_dir(self) -> Path:
        return self.frames.quarantine_dir or self.state_dir / "quarantine"


def _format_error(exc: ValidationError, source: str) -> str:
    parts = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "missing":
            message = "required (set it in the file or with its command-line flag)"
        parts.append(f"{key}: {message}")
    return f"{source}: " + "; ".join(parts)


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise UserError(f"config file {path} does not exist") from exc
    except OSError as exc:
        raise UserError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from exc


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> StationConfig:
    """Read ``path`` (optional), apply command-line ``overrides`` (nested dict), validate."""
    raw = read_toml(path) if path is not None else {}
    source = str(path) if path is not None else "configuration"
    try:
        config = StationConfig.model_validate(_merge(raw, overrides or {}))
    except ValidationError as exc:
        raise UserError(_format_error(exc, source)) from exc
    if config.mqtt.password_in_clear:
        log.warning("event=mqtt_password_in_clear broker=%s:%d hint=%r", config.mqtt.host, config.mqtt.port,
                    "set [mqtt] tls = true (and ca_file) so the login is encrypted")
    return config


def parse_broker(address: str) -> dict[str, Any]:
    """``HOST:PORT`` or ``HOST`` → the ``[mqtt]`` overrides."""
    host, sep, port = address.rpartition(":")
    if not sep:
        return {"host": address}
    if not host or not port.isdigit():
        raise UserError(f"--broker {address!r}: expected HOST:PORT, e.g. localhost:1883")
    return {"host": host, "port": int(port)}
