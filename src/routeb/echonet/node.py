"""The device side of ECHONET Lite: a node that answers requests the way the spec says.

Sans-IO: ``Node.handle(frame)`` takes a decoded request and returns the reply frame, or None
when the spec says to stay silent. Used by the emulator (its meter, over Wi-SUN and UDP) and
by ``routeb bridge``. Rules: protocol.md §A.3 (per-property answers), §A.4 (SetGet), §A.6
(node profile), §A.5 (property maps).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Protocol

from routeb.echonet.frame import EOJ, ESV, Frame, Property
from routeb.echonet.objects import NODE_PROFILE_EOJ
from routeb.echonet.propmap import encode_property_map

__all__ = [
    "NODE_PROFILE_EOJ",
    "DeviceObject",
    "Node",
    "StaticObject",
    "node_profile_object",
]

# protocol.md §A.5: the three property maps every object answers.
EPC_ANNO_MAP: Final = 0x9D
EPC_SET_MAP: Final = 0x9E
EPC_GET_MAP: Final = 0x9F


class DeviceObject(Protocol):
    """One ECHONET object of a node: what it lets be read, written and announced."""

    @property
    def eoj(self) -> EOJ:
        """The object's EOJ."""
        ...

    def get_epcs(self) -> frozenset[int]:
        """EPCs that Get may read (the 0x9F map)."""
        ...

    def set_epcs(self) -> frozenset[int]:
        """EPCs that SetC/SetI may write (the 0x9E map)."""
        ...

    def anno_epcs(self) -> frozenset[int]:
        """EPCs announced on change (the 0x9D map)."""
        ...

    def read(self, epc: int) -> bytes | None:
        """The EDT of a readable property now, or None when it cannot be given."""
        ...

    def write(self, epc: int, edt: bytes) -> bool:
        """Apply a write; False when the value is refused."""
        ...


@dataclass(slots=True)
class StaticObject:
    """An object backed by a dict of EDTs, with optional dynamic readers and a write check."""

    eoj: EOJ
    values: dict[int, bytes] = field(default_factory=dict)
    readers: dict[int, Callable[[], bytes | None]] = field(default_factory=dict)
    writable: dict[int, Callable[[bytes], bool]] = field(default_factory=dict)
    announced: frozenset[int] = frozenset()

    def get_epcs(self) -> frozenset[int]:
        """Readable EPCs, including the three maps."""
        return (
            frozenset(self.values)
            | frozenset(self.readers)
            | {
                EPC_ANNO_MAP,
                EPC_SET_MAP,
                EPC_GET_MAP,
            }
        )

    def set_epcs(self) -> frozenset[int]:
        """Writable EPCs."""
        return frozenset(self.writable)

    def anno_epcs(self) -> frozenset[int]:
        """Announced EPCs."""
        return self.announced

    def read(self, epc: int) -> bytes | None:
        """Maps are computed, so they are always truthful (§A.5)."""
        if epc == EPC_ANNO_MAP:
            return encode_property_map(self.anno_epcs())
        if epc == EPC_SET_MAP:
            return encode_property_map(self.set_epcs())
        if epc == EPC_GET_MAP:
            return encode_property_map(self.get_epcs())
        reader = self.readers.get(epc)
        if reader is not None:
            return reader()
        return self.values.get(epc)

    def write(self, epc: int, edt: bytes) -> bool:
        """Run the property's check; a refused write changes nothing."""
        check = self.writable.get(epc)
        if check is None or not check(edt):
            return False
        if epc not in self.readers:
            self.values[epc] = edt
        return True


def node_profile_object(
    identification: bytes,
    manufacturer: bytes,
    objects: Iterable[EOJ],
    version: bytes = bytes((0x01, 0x0D, 0x01, 0x00)),
) -> StaticObject:
    """A node profile 0x0EF001 for the given device objects (§A.6)."""
    eojs = sorted(objects)
    instance_list = bytes((len(eojs),)) + b"".join(e.to_bytes() for e in eojs)
    classes = sorted({(e.class_group, e.class_code) for e in eojs})
    class_list = bytes((len(classes),)) + b"".join(bytes(c) for c in classes)
    return StaticObject(
        NODE_PROFILE_EOJ,
        {
            0x80: b"\x30",  # operating (§A.6)
            0x82: version,  # v1.13, specified message format (§A.6)
            0x83: identification,  # 0xFE + maker code + 13 unique bytes
            0x8A: manufacturer,
            0xD3: len(eojs).to_bytes(3, "big"),  # excludes the node profile (§A.6)
            0xD4: (len(classes) + 1).to_bytes(2, "big"),  # includes the node profile class
            0xD5: instance_list,
            0xD6: instance_list,
            0xD7: class_list,
        },
        announced=frozenset({0x80, 0xD5}),
    )


class Node:
    """An ECHONET Lite node: objects by EOJ, answering requests per §A.3/§A.4."""

    def __init__(self, objects: Iterable[DeviceObject], *, max_properties: int = 255) -> None:
        self.objects: dict[EOJ, DeviceObject] = {o.eoj: o for o in objects}
        self.max_properties = max_properties

    def _targets(self, deoj: EOJ) -> list[DeviceObject]:
        """Instance 0 addresses every instance of the class (all-instances code)."""
        if deoj.instance == 0:
            return [
                o
                for e, o in self.objects.items()
                if e.class_group == deoj.class_group and e.class_code == deoj.class_code
            ]
        target = self.objects.get(deoj)
        return [] if target is None else [target]

    def _get(self, obj: DeviceObject, props: Iterable[Property]) -> tuple[list[Property], bool]:
        out: list[Property] = []
        ok = True
        readable = obj.get_epcs()
        for i, prop in enumerate(props):
            edt = obj.read(prop.epc) if prop.epc in readable and i < self.max_properties else None
            if edt is None:
                out.append(Property(prop.epc))  # §A.3: a refused Get comes back with PDC = 0
                ok = False
            else:
                out.append(Property(prop.epc, edt))
        return out, ok

    def _set(self, obj: DeviceObject, props: Iterable[Property]) -> tuple[list[Property], bool]:
        out: list[Property] = []
        ok = True
        writable = obj.set_epcs()
        for i, prop in enumerate(props):
            if prop.epc in writable and i < self.max_properties and obj.write(prop.epc, prop.edt):
                out.append(Property(prop.epc))  # §A.3: accepted → PDC = 0
            else:
                out.append(prop)  # §A.3: refused → the request's PDC and EDT echoed
                ok = False
        return out, ok

    def handle(self, request: Frame) -> list[Frame]:
        """The replies to one request (empty when the spec says to stay silent)."""
        replies: list[Frame] = []
        for obj in self._targets(request.deoj):
            reply = self._handle_one(obj, request)
            if reply is not None:
                replies.append(reply)
        return replies

    def _reply(self, request: Frame, obj: DeviceObject, esv: ESV, *lists: list[Property]) -> Frame:
        return Frame(request.tid, obj.eoj, request.seoj, esv, *(tuple(x) for x in lists))

    def _handle_one(self, obj: DeviceObject, request: Frame) -> Frame | None:
        esv = request.esv
        if esv is ESV.GET:
            props, ok = self._get(obj, request.properties)
            return self._reply(request, obj, ESV.GET_RES if ok else ESV.GET_SNA, props)
        if esv is ESV.SETC:
            props, ok = self._set(obj, request.properties)
            return self._reply(request, obj, ESV.SET_RES if ok else ESV.SETC_SNA, props)
        if esv is ESV.SETI:
            props, ok = self._set(obj, request.properties)
            # §A.3: a SetI that fully succeeds gets no reply.
            return None if ok else self._reply(request, obj, ESV.SETI_SNA, props)
        if esv is ESV.INF_REQ:
            props, ok = self._get(obj, request.properties)
            return self._reply(request, obj, ESV.INF if ok else ESV.INF_SNA, props)
        if esv is ESV.SETGET:
            set_props, set_ok = self._set(obj, request.properties)
            get_props, get_ok = self._get(obj, request.get_properties)
            esv_out = ESV.SETGET_RES if set_ok and get_ok else ESV.SETGET_SNA
            return self._reply(request, obj, esv_out, set_props, get_props)
        if esv is ESV.INFC:
            # §A.3: INFC_Res carries the same EPCs with PDC = 0.
            return self._reply(
                request, obj, ESV.INFC_RES, [Property(p.epc) for p in request.properties]
            )
        return None  # responses and notifications addressed to us need no answer

    def notification(self, eoj: EOJ, epcs: Iterable[int], tid: int, deoj: EOJ) -> Frame | None:
        """An INF of the given properties of one object (None if it cannot read them)."""
        obj = self.objects.get(eoj)
        if obj is None:
            return None
        props = []
        for epc in epcs:
            edt = obj.read(epc)
            if edt is None:
                return None
            props.append(Property(epc, edt))
        return Frame(tid & 0xFFFF, eoj, deoj, ESV.INF, tuple(props))
