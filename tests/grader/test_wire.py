"""The data format of hidden-test calls: faithful for plain data, strict for everything else."""

from __future__ import annotations

import io
import json
import sys
import zipfile

import numpy as np
import pytest

from grader import wire

pytestmark = pytest.mark.grader


class Side:
    """One side of the boundary: its array table and what it does with non-data nodes."""

    def __init__(self, prefix: str) -> None:
        self.table = wire.ArrayTable(prefix)
        self.kept: dict[int, object] = {}

    def keep(self, value):
        self.kept[id(value)] = value
        return {"r": id(value)}

    def resolve(self, node):
        return ("ref", node["r"])

    def send(self, value) -> bytes:
        encoder = wire.Encoder(self.table, self.keep)
        return wire.pack({"value": encoder.encode(value)}, encoder.finish())

    def receive(self, data: bytes):
        meta, arrays = wire.unpack(data)
        decoder = wire.Decoder(self.table, arrays, self.resolve)
        value = decoder.decode(meta["value"])
        decoder.apply_rest()
        return value


def roundtrip(value):
    return Side("k").receive(Side("h").send(value))


def test_plain_values_keep_their_types():
    value = {
        "int": 3, "float": 2.5, "nan": float("nan"), "bool": True, "none": None, "str": "é",
        "complex": 1 - 2j, "bytes": b"\x00\xff", "tuple": (1, (2.0, "x")), "list": [1, [2]],
        "set": {1, 2}, 7: "int key", ("a", 1): "tuple key",
    }
    back = roundtrip(value)
    assert back.keys() == value.keys()
    for key in value:
        if key == "nan":
            assert np.isnan(back[key])
        else:
            assert back[key] == value[key] and type(back[key]) is type(value[key]), key


def test_numpy_scalars_and_arrays_keep_dtype_and_shape():
    values = [np.float32(1.5), np.int64(-3), np.bool_(True), np.array(2.0), np.zeros((2, 0, 3)),
              np.arange(6, dtype=np.int16).reshape(2, 3).T, np.array(["a", "bc"])]
    back = roundtrip(values)
    for original, received in zip(values, back, strict=True):
        assert type(received) is type(original)
        assert np.shape(received) == np.shape(original)
        assert np.asarray(received).dtype == np.asarray(original).dtype
        assert np.array_equal(received, original)


def test_subclasses_of_plain_types_cross_as_the_plain_type():
    class Sneaky(float):
        def __eq__(self, other):
            return True

    class Tagged(np.ndarray):
        pass

    back = roundtrip([Sneaky(1.0), np.arange(3.0).view(Tagged)])
    assert type(back[0]) is float and back[0] != 2.0
    assert type(back[1]) is np.ndarray


def test_objects_that_are_not_data_become_references():
    def fn():
        return None

    assert roundtrip({"f": fn})["f"] == ("ref", id(fn))


def test_in_place_changes_travel_back_to_the_same_array():
    trusted, kernel = Side("h"), Side("k")
    x = np.arange(4.0)
    received = kernel.receive(trusted.send((x, x)))
    assert received[0] is received[1]  # one array on the other side too
    received[0][1] = -1.0  # the student's code writes into its input
    encoder = wire.Encoder(kernel.table, kernel.keep)
    reply = wire.pack({"value": encoder.encode(None)}, encoder.finish())
    trusted.receive(reply)
    assert x[1] == -1.0  # the caller's array changed, as with shared memory
    x[2] = 7.0  # and a change made here reaches the other side at the next message
    kernel.receive(trusted.send(None))
    assert received[0][2] == 7.0


def test_an_array_sent_back_is_the_original_object():
    trusted, kernel = Side("h"), Side("k")
    x = np.ones(3)
    inside = kernel.receive(trusted.send(x))
    assert trusted.receive(kernel.send((inside, inside * 2)))[0] is x


def test_read_only_arrays_stay_read_only():
    x = np.ones(3)
    x.setflags(write=False)
    assert not roundtrip(x).flags.writeable


def _npz(**members) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **members)
    return buffer.getvalue()


@pytest.mark.parametrize("data", [
    b"not a zip",
    _npz(x=np.zeros(2)),  # no __meta__
    _npz(__meta__=np.array([1, 2])),  # __meta__ not one string
    _npz(__meta__=np.array("[1, 2]")),  # not a JSON object
    _npz(__meta__=np.array("{}"), evil=np.array([object()], dtype=object)),  # a pickle inside
])
def test_malformed_messages_are_refused(data):
    with pytest.raises(wire.WireError):
        wire.unpack(data)


def test_too_many_members_are_refused(monkeypatch):
    monkeypatch.setattr(wire, "MAX_MEMBERS", 3)
    data = _npz(__meta__=np.array("{}"), a=np.zeros(1), b=np.zeros(1), c=np.zeros(1))
    with pytest.raises(wire.WireError, match="members"):
        wire.unpack(data)


def test_a_zip_bomb_is_refused_before_it_expands(monkeypatch):
    monkeypatch.setattr(wire, "MAX_BYTES", 10_000_000)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("__meta__.npy", b"\x00" * 20_000_000)
    with pytest.raises(wire.WireError, match="expands"):
        wire.unpack(buffer.getvalue())


def test_object_arrays_cannot_be_sent():
    with pytest.raises(wire.WireError, match="Python objects"):
        wire.pack({}, {"x": np.array([object()], dtype=object)})


@pytest.mark.parametrize("node", [
    {"a": "h99"},  # unknown array
    {"q": 1},  # unknown kind of node
    [1, 2],  # a bare list is not a node
    {"s": "missing"},
])
def test_malformed_nodes_are_refused(node):
    side = Side("h")
    data = wire.pack({"value": node}, {})
    with pytest.raises(wire.WireError):
        side.receive(data)


def test_deep_nesting_is_refused():
    node = 1
    for _ in range(wire.MAX_DEPTH + 5):
        node = {"l": [node]}
    data = wire.pack({"value": node}, {})
    with pytest.raises(wire.WireError, match="deeply"):
        Side("h").receive(data)
    nested: list = []
    for _ in range(wire.MAX_DEPTH + 5):
        nested = [nested]
    with pytest.raises(wire.WireError, match="deeply"):
        Side("h").send(nested)


def test_meta_is_json():
    data = wire.pack({"value": {"t": [1, 2.5]}}, {})
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        assert json.loads(str(npz["__meta__"])) == {"value": {"t": [1, 2.5]}}


# --- PyTorch tensors -----------------------------------------------------------------------


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def test_tensors_keep_dtype_shape_and_values(torch):
    values = [torch.rand(2, 3), torch.rand(4, dtype=torch.float64), torch.arange(-3, 3),
              torch.tensor([True, False]), torch.tensor(2.5), torch.zeros(2, 0, 3),
              torch.arange(12.0).reshape(3, 4).T, torch.rand(3, dtype=torch.float16),
              torch.arange(4, dtype=torch.uint8), torch.tensor([1 + 2j]).conj()]
    back = roundtrip(values)
    for original, received in zip(values, back, strict=True):
        assert type(received) is torch.Tensor
        assert received.dtype == original.dtype and received.shape == original.shape
        assert torch.equal(received, original.resolve_conj())


def test_bfloat16_travels_exactly(torch):
    x = torch.randn(5).to(torch.bfloat16)
    back = roundtrip(x)
    assert back.dtype == torch.bfloat16 and torch.equal(back, x)


def test_gradients_and_subclasses_are_dropped(torch):
    class Sneaky(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            raise RuntimeError("every torch function fails on this tensor")

        def __eq__(self, other):
            return True

    leaf = torch.ones(3, requires_grad=True)
    values = [leaf * 2, torch.nn.Parameter(torch.ones(2)), torch.arange(3.0).as_subclass(Sneaky)]
    back = roundtrip(values)
    assert all(type(t) is torch.Tensor and not t.requires_grad for t in back)
    assert torch.equal(back[0], torch.full((3,), 2.0))
    assert torch.equal(back[2], torch.arange(3.0))
    assert not (back[2] == 5).any()


def test_in_place_changes_of_tensors_travel_both_ways(torch):
    trusted, kernel = Side("h"), Side("k")
    x = torch.zeros(4)
    received = kernel.receive(trusted.send((x, x)))
    assert received[0] is received[1]
    received[0].add_(1)  # the student's code changes its input in place
    trusted.receive(kernel.send(None))
    assert torch.equal(x, torch.ones(4))
    x[2] = 7.0
    kernel.receive(trusted.send(None))
    assert received[0][2] == 7.0
    assert trusted.receive(kernel.send(received[0])) is x  # the original object comes back


def test_a_state_dict_arrives_as_a_plain_dict_of_tensors(torch):
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    back = roundtrip(model.state_dict())
    assert type(back) is dict and list(back) == list(model.state_dict())
    assert all(type(t) is torch.Tensor for t in back.values())
    assert back["1.num_batches_tracked"].dtype == torch.int64
    assert torch.equal(back["0.weight"], model[0].weight.detach())


def test_modules_and_other_torch_objects_are_references(torch):
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    back = roundtrip([model, optimizer, torch.float32])
    assert back == [("ref", id(model)), ("ref", id(optimizer)), ("ref", id(torch.float32))]


@pytest.mark.parametrize(("make", "message"), [
    (lambda torch: torch.ones(2).to_sparse(), "to_dense"),
    (lambda torch: torch.ones(2, device="meta"), "meta device has no data"),
    (lambda torch: torch.ones(2, dtype=torch.uint16), "torch.uint16 tensor cannot cross"),
])
def test_tensors_without_plain_data_are_refused(torch, make, message):
    with pytest.raises(wire.WireError, match=message):
        Side("h").send(make(torch))


@pytest.mark.parametrize("node", [
    {"a": "k1", "ro": False, "torch": "object"},  # not a tensor dtype
    {"a": "k1", "ro": False, "torch": "int64"},  # the data is float32
])
def test_malformed_tensor_nodes_are_refused(torch, node):
    data = wire.pack({"value": node}, {"k1": np.zeros(2, np.float32)})
    with pytest.raises(wire.WireError, match="dtype|data"):
        Side("h").receive(data)


def test_a_side_that_may_not_import_torch_refuses_tensors(torch, monkeypatch):
    data = Side("h").send(torch.ones(2))
    monkeypatch.delitem(sys.modules, "torch")
    with pytest.raises(wire.WireError, match="has not imported torch"):
        Side("k").receive(data)
    trusted = Side("k")
    trusted.table.import_torch = True
    monkeypatch.setitem(sys.modules, "torch", torch)  # import_module finds it loaded
    assert type(trusted.receive(data)) is torch.Tensor
