"""The ncnn `.param` text format, read and written in one place (../shared/ncnn-int8-format.md §1).

A file is a magic line (7767517), a "layer count, blob count" line, then one line per layer:
`kind name n_bottoms n_tops bottom… top… key=value…`. Values stay the strings as written, so a parsed file
writes back token for token (byte for byte for pnnx, whose `%-24s %-24s` layout `text` reproduces); the
weight layout, the int8 writer and the export checks each read the fields they need through `NcnnLayer`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ARRAY_KEY_BASE = -23300     # array parameter k is written as `-(23300 + k)=count,v1,…,vcount`


@dataclass(frozen=True)
class NcnnLayer:
    kind: str
    name: str
    bottoms: tuple[str, ...]
    tops: tuple[str, ...]
    params: dict[str, str]      # "key" → "value" as written, in file order

    @classmethod
    def parse(cls, line: str) -> NcnnLayer:
        parts = line.split()
        n_in, n_out = int(parts[2]), int(parts[3])
        params = {key: value for key, _, value in (token.partition("=") for token in parts[4 + n_in + n_out:])}
        return cls(parts[0], parts[1], tuple(parts[4:4 + n_in]), tuple(parts[4 + n_in:4 + n_in + n_out]), params)

    def line(self) -> str:
        return " ".join([f"{self.kind:<24} {self.name:<24} {len(self.bottoms)} {len(self.tops)}", *self.bottoms,
                         *self.tops, *(f"{key}={value}" for key, value in self.params.items())])

    def int_param(self, key: int, default: int | None = None) -> int:
        """Scalar parameter `key` as an integer (a value written as a float truncates); `default` when absent,
        KeyError when absent without one. Array parameters live under other keys and are never read here."""
        value = self.params.get(str(key))
        if value is None:
            if default is None:
                raise KeyError(f"ncnn layer {self.name} has no parameter {key}=")
            return default
        return int(float(value))

    def array_param(self, key: int) -> list[float] | None:
        """Array parameter `key` (written under the negative key ARRAY_KEY_BASE − key), or None when absent."""
        value = self.params.get(str(ARRAY_KEY_BASE - key))
        if value is None:
            return None
        count, *items = value.split(",")
        return [float(item) for item in items[:int(count)]]


@dataclass(frozen=True)
class NcnnParam:
    magic: str                      # the first line as written
    layers: tuple[NcnnLayer, ...]

    @classmethod
    def parse(cls, text: str) -> NcnnParam:
        lines = text.splitlines()
        layers = tuple(NcnnLayer.parse(line) for line in lines[2:] if len(line.split()) >= 4)
        return cls(lines[0].strip() if lines else "", layers)

    @classmethod
    def read(cls, path: Path) -> NcnnParam:
        return cls.parse(Path(path).read_text())

    def text(self) -> str:
        """The file text; the counts line is computed, so edited layers stay consistent with it."""
        blobs = {blob for layer in self.layers for blob in (*layer.bottoms, *layer.tops)}
        lines = [self.magic, f"{len(self.layers)} {len(blobs)}", *(layer.line() for layer in self.layers)]
        return "\n".join(lines) + "\n"

    def write(self, path: Path) -> None:
        Path(path).write_text(self.text())

    @property
    def kinds(self) -> set[str]:
        return {layer.kind for layer in self.layers}

    @property
    def input_blob(self) -> str | None:
        """The blob of the (first) Input layer."""
        return next((layer.tops[0] for layer in self.layers if layer.kind == "Input" and layer.tops), None)

    @property
    def output_blobs(self) -> list[str]:
        """Blobs no layer consumes, other than inputs. pnnx names them `out0`, `out1`, … in the ONNX output
        order, so they sort by that number (out10 after out2); other names sort alphabetically after them."""
        consumed = {blob for layer in self.layers for blob in layer.bottoms}
        outputs = [top for layer in self.layers if layer.kind != "Input" for top in layer.tops if top not in consumed]
        return sorted(outputs, key=lambda name: (0, int(name[3:])) if name[3:].isdigit() else (1, name))
