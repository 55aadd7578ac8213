"""Deterministic synthetic recordings in the SpikeGLX and Open Ephys binary layouts.

No real recording can be downloaded on these machines, so tests, the demo and the benches
convert recordings written here. Each file holds seeded noise with a few spike-like events and
is written in bounded chunks, so multi-GB recordings never sit in memory. The same parameters
always give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Samples of all channels per write: bounded in bytes, whatever the channel count.
CHUNK_BYTES = 32 * 1024 * 1024

# SpikeGLX NP1.0: 384 readout channels, AP gain 500, imAiRangeMax 0.6 V over 10 bits (±512).
NP1_CHANNELS = 384
NP1_AP_GAIN = 500
NP1_LF_GAIN = 250
NP1_RANGE_MAX = 0.6
NP1_MAX_INT = 512

# Open Ephys Acquisition Board (Intan): 0.195 µV per bit.
OE_BIT_VOLTS = 0.195
OE_STREAM = "Acquisition_Board-100.Rhythm Data"

# Fixed so that the session start time read from the files is stable across runs.
START_TIME = "2024-01-15T10:30:00"
OE_START_TIME = "15 Jan 2024 10:30:00"

# A spike-like event: fast negative trough, slower positive rebound (counts, ~1 ms at 30 kHz).
_SPIKE = np.array(
    [0, -60, -180, -300, -220, -90, 20, 80, 100, 90, 70, 50, 30, 15, 5], dtype=np.int16
)


@dataclass(frozen=True, slots=True)
class SyntheticRecording:
    """What a writer produced: enough to check a conversion against it."""

    format: str  # formats registry name: "spikeglx" or "openephys"
    folder: Path  # the folder to convert
    files: tuple[Path, ...]
    channels: int  # neural channels (the SpikeGLX sync channel is not counted)
    sampling_rate: float
    samples: int
    gains_uv: tuple[float, ...]  # per neural channel, µV per count
    seed: int

    @property
    def seconds(self) -> float:
        return self.samples / self.sampling_rate


def _chunks(samples: int, columns: int, seed: int) -> Iterator[np.ndarray]:
    """Seeded int16 blocks of shape (n, columns) covering ``samples`` rows in order."""
    rng = np.random.default_rng(seed)
    rows = max(1, CHUNK_BYTES // (2 * columns))
    width = len(_SPIKE)
    for start in range(0, samples, rows):
        n = min(rows, samples - start)
        block = rng.integers(-40, 41, size=(n, columns), dtype=np.int16)
        # About one event per channel per 0.1 s of a 30 kHz recording.
        events = max(1, n * columns // 3000)
        at = rng.integers(0, max(1, n - width), size=events)
        chans = rng.integers(0, columns, size=events)
        for t, c in zip(at.tolist(), chans.tolist(), strict=True):
            stop = min(n, t + width)
            block[t:stop, c] += _SPIKE[: stop - t]
        yield block


def _write_binary(path: Path, samples: int, columns: int, seed: int, sync: bool = False) -> None:
    with path.open("wb") as f:
        for block in _chunks(samples, columns - 1 if sync else columns, seed):
            if sync:
                # SpikeGLX saves the sync word last; no sync pulses here, so it stays 0.
                block = np.concatenate([block, np.zeros((len(block), 1), np.int16)], axis=1)
            f.write(block.tobytes())


def _samples(seconds: float, sampling_rate: float) -> int:
    samples = round(seconds * sampling_rate)
    if samples < 1:
        raise ValueError(f"{seconds} s at {sampling_rate} Hz gives no samples")
    return samples


def write_spikeglx(
    folder: str | Path,
    *,
    channels: int = 16,
    seconds: float = 1.0,
    sampling_rate: float = 30000.0,
    seed: int = 0,
    run: str = "synthetic",
) -> SyntheticRecording:
    """Write ``<run>_g0_t0.imec0.ap.bin`` + ``.ap.meta`` (Neuropixels 1.0, int16) in FOLDER.

    The first ``channels`` of the 384 readout channels are saved, followed by the sync channel,
    as SpikeGLX does when a channel subset is saved.
    """
    if not 1 <= channels <= NP1_CHANNELS:
        raise ValueError(f"channels must be 1-{NP1_CHANNELS} for a Neuropixels 1.0 probe")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    samples = _samples(seconds, sampling_rate)
    stem = f"{run}_g0_t0.imec0.ap"
    bin_path = folder / f"{stem}.bin"
    meta_path = folder / f"{stem}.meta"
    saved = channels + 1
    _write_binary(bin_path, samples, saved, seed, sync=True)

    imro = "(0,384)" + "".join(
        f"({c} 0 0 {NP1_AP_GAIN} {NP1_LF_GAIN} 1)" for c in range(NP1_CHANNELS)
    )
    chan_map = f"({NP1_CHANNELS},0,1)" + "".join(f"(AP{c};{c}:{c})" for c in range(channels))
    chan_map += f"(SY0;{2 * NP1_CHANNELS}:{2 * NP1_CHANNELS})"
    subset = f"0:{channels - 1},{2 * NP1_CHANNELS}" if channels > 1 else f"0,{2 * NP1_CHANNELS}"
    meta = {
        "acqApLfSy": f"{NP1_CHANNELS},{NP1_CHANNELS},1",
        "appVersion": "20230905",
        "fileCreateTime": START_TIME,
        "fileName": f"D:/data/{run}_g0/{run}_g0_imec0/{stem}.bin",
        "fileSizeBytes": str(bin_path.stat().st_size),
        "fileTimeSecs": f"{samples / sampling_rate:.6f}",
        "firstSample": "0",
        "imAiRangeMax": str(NP1_RANGE_MAX),
        "imAiRangeMin": str(-NP1_RANGE_MAX),
        "imDatApi": "3.62.1",
        "imDatBs_fw": "2.0.137",
        "imDatPrb_dock": "0",
        "imDatPrb_pn": "NP1000",
        "imDatPrb_port": "1",
        "imDatPrb_slot": "2",
        "imDatPrb_sn": "18194814132",
        "imDatPrb_type": "0",
        "imMaxInt": str(NP1_MAX_INT),
        "imRoFile": "",
        "imSampRate": f"{sampling_rate:g}",
        "imTrgRising": "1",
        "imTrgSource": "0",
        "nSavedChans": str(saved),
        "snsApLfSy": f"{channels},0,1",
        "snsSaveChanSubset": subset,
        "syncImInputSlot": "2",
        "syncSourceIdx": "0",
        "syncSourcePeriod": "1",
        "trigMode": "Immediate",
        "typeImEnabled": "1",
        "typeNiEnabled": "0",
        "typeObEnabled": "0",
        "typeThis": "imec",
        "~imroTbl": imro,
        "~snsChanMap": chan_map,
    }
    meta_path.write_text("".join(f"{k}={v}\n" for k, v in meta.items()))
    gain = NP1_RANGE_MAX / NP1_MAX_INT / NP1_AP_GAIN * 1e6
    return SyntheticRecording(
        format="spikeglx",
        folder=folder,
        files=(bin_path, meta_path),
        channels=channels,
        sampling_rate=float(sampling_rate),
        samples=samples,
        gains_uv=(gain,) * channels,
        seed=seed,
    )


_SETTINGS_XML = """<?xml version="1.0" encoding="UTF-8"?>
<SETTINGS>
  <INFO>
    <VERSION>0.6.4</VERSION>
    <PLUGIN_API_VERSION>8</PLUGIN_API_VERSION>
    <DATE>{date}</DATE>
    <OS>Linux</OS>
    <MACHINE name="synthetic" cpu_model="synthetic" cpu_num_cores="2"/>
  </INFO>
  <SIGNALCHAIN>
    <PROCESSOR name="Acquisition Board" insertionPoint="0" pluginName="Acquisition Board"
               type="4" index="0" libraryName="Rhythm Plugins" libraryVersion="0.2.5"
               processorType="2" nodeId="100">
      <STREAM name="Rhythm Data" description="Intan data" sample_rate="{rate}"
              channel_count="{channels}"/>
    </PROCESSOR>
    <PROCESSOR name="Record Node" insertionPoint="1" pluginName="Record Node" type="0"
               index="3" libraryName="" libraryVersion="" processorType="8" nodeId="101"/>
  </SIGNALCHAIN>
</SETTINGS>
"""


def write_openephys(
    folder: str | Path,
    *,
    channels: int = 16,
    seconds: float = 1.0,
    sampling_rate: float = 30000.0,
    seed: int = 0,
) -> SyntheticRecording:
    """Write an Open Ephys binary recording (GUI 0.6 layout) under FOLDER.

    Layout: ``Record Node 101/settings.xml`` and
    ``Record Node 101/experiment1/recording1/{structure.oebin, continuous/<stream>/...}``.
    """
    if channels < 1:
        raise ValueError("channels must be at least 1")
    folder = Path(folder)
    node = folder / "Record Node 101"
    recording = node / "experiment1" / "recording1"
    stream = recording / "continuous" / OE_STREAM
    stream.mkdir(parents=True, exist_ok=True)
    samples = _samples(seconds, sampling_rate)

    settings = node / "settings.xml"
    settings.write_text(
        _SETTINGS_XML.format(date=OE_START_TIME, rate=f"{sampling_rate:g}", channels=channels)
    )
    structure = {
        "GUI version": "0.6.4",
        "continuous": [
            {
                "folder_name": f"{OE_STREAM}/",
                "sample_rate": float(sampling_rate),
                "source_processor_name": "Acquisition Board",
                "source_processor_id": 100,
                "stream_name": "Rhythm Data",
                "recorded_processor": "Record Node",
                "recorded_processor_id": 101,
                "num_channels": channels,
                "channels": [
                    {
                        "channel_name": f"CH{c + 1}",
                        "description": "Headstage data channel",
                        "identifier": "genericdata.continuous",
                        "history": "Acquisition Board -> Record Node",
                        "bit_volts": OE_BIT_VOLTS,
                        "units": "uV",
                    }
                    for c in range(channels)
                ],
            }
        ],
        "events": [],
        "spikes": [],
    }
    oebin = recording / "structure.oebin"
    oebin.write_text(json.dumps(structure, indent=2) + "\n")
    dat = stream / "continuous.dat"
    _write_binary(dat, samples, channels, seed)

    sample_numbers = stream / "sample_numbers.npy"
    timestamps = stream / "timestamps.npy"
    numbers = np.lib.format.open_memmap(sample_numbers, mode="w+", dtype=np.int64, shape=(samples,))
    times = np.lib.format.open_memmap(timestamps, mode="w+", dtype=np.float64, shape=(samples,))
    step = CHUNK_BYTES // 8
    for start in range(0, samples, step):
        idx = np.arange(start, min(samples, start + step), dtype=np.int64)
        numbers[start : start + len(idx)] = idx
        times[start : start + len(idx)] = idx / sampling_rate
    numbers.flush()
    times.flush()
    del numbers, times

    return SyntheticRecording(
        format="openephys",
        folder=folder,
        files=(settings, oebin, dat, sample_numbers, timestamps),
        channels=channels,
        sampling_rate=float(sampling_rate),
        samples=samples,
        gains_uv=(OE_BIT_VOLTS,) * channels,
        seed=seed,
    )


WRITERS = {"spikeglx": write_spikeglx, "openephys": write_openephys}


def write_recording(
    format: str,
    folder: str | Path,
    *,
    channels: int = 16,
    seconds: float = 1.0,
    sampling_rate: float = 30000.0,
    seed: int = 0,
) -> SyntheticRecording:
    """Write a synthetic recording of FORMAT (``spikeglx`` or ``openephys``) into FOLDER."""
    try:
        writer = WRITERS[format]
    except KeyError:
        raise ValueError(
            f"no synthetic writer for {format!r}; use one of {sorted(WRITERS)}"
        ) from None
    return writer(
        folder, channels=channels, seconds=seconds, sampling_rate=sampling_rate, seed=seed
    )
