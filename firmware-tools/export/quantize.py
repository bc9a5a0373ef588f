"""int8 quantization of CLIP towers in the one form tract runs correctly and in int8.

    python3 quantize.py model.fp32.onnx model.int8.onnx

Form ("dynamic-matmul-weights"), chosen from what was measured on tract 0.23:

* Gemm nodes are rewritten to MatMul + Add first. onnxruntime's quantizer turns
  Gemm into com.microsoft.QGemm (or, after its pre-processing fuses MatMul + Add,
  creates more of them), which neither tract nor OpenVINO loads.
* Only MatMuls with a constant weight are quantized (DynamicQuantizeLinear on the
  activation, MatMulInteger against int8 weights, symmetric zero point 0,
  per-tensor scale). MatMuls of two activations (attention's q.k^T and attn.v)
  stay float, so Softmax keeps float neighbours: tract fuses
  DequantizeLinear -> Softmax -> QuantizeLinear into a u8 softmax that is wrong
  (cosine 0.79 against onnxruntime at ViT-B/32 scale).
* The text tower's token-embedding Gather is quantized (weight-only, uint8),
  which is what makes the int8 text tower a quarter of the fp32 size. The
  default operator set is not used: it would quantize the causal mask's -inf
  constant with an infinite scale.
* QDQ form is not used: tract runs it in float.

The runtime folds the weight-only subgraphs (int8 -> int32 casts, column sums
for zero points) once at load, which tract's own constant folding skips above
4 MiB per tensor.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

FORM = "dynamic-matmul-weights"


def gemm_to_matmul(model: onnx.ModelProto) -> onnx.ModelProto:
    """Rewrites Gemm(A, B, C) as MatMul(A, B') + C with alpha/beta folded into B'/C."""
    inits = {i.name: i for i in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        if node.op_type != "Gemm":
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("transA", 0):
            raise ValueError(f"Gemm {node.name}: transA is not supported")
        b_name = node.input[1]
        if b_name not in inits:
            raise ValueError(f"Gemm {node.name}: weight {b_name} is not a constant")
        b = numpy_helper.to_array(inits[b_name])
        if attrs.get("transB", 0):
            b = b.T
        b = b * attrs.get("alpha", 1.0)
        new_b = numpy_helper.from_array(np.ascontiguousarray(b.astype(np.float32)), b_name + "_matmul")
        model.graph.initializer.append(new_b)
        mm_out = node.output[0] + ("_matmul" if len(node.input) > 2 else "")
        nodes.append(helper.make_node("MatMul", [node.input[0], new_b.name], [mm_out], name=node.name + "_matmul"))
        if len(node.input) > 2 and node.input[2]:
            c_name = node.input[2]
            beta = attrs.get("beta", 1.0)
            if beta != 1.0:
                c = numpy_helper.to_array(inits[c_name]) * beta
                c_init = numpy_helper.from_array(c.astype(np.float32), c_name + "_scaled")
                model.graph.initializer.append(c_init)
                c_name = c_init.name
            nodes.append(helper.make_node("Add", [mm_out, c_name], [node.output[0]], name=node.name + "_bias"))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {i for n in model.graph.node for i in n.input}
    kept = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return model


def constant_names(model: onnx.ModelProto) -> set[str]:
    names = {i.name for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            names.update(node.output)
    return names


def activation_matmuls(model: onnx.ModelProto) -> list[str]:
    """MatMuls whose inputs are both computed (attention), to keep in float."""
    consts = constant_names(model)
    # a weight may pass through Transpose/Identity before the MatMul
    producers = {o: n for n in model.graph.node for o in n.output}

    def is_const(name: str) -> bool:
        seen = name
        while seen not in consts and seen in producers and producers[seen].op_type in ("Transpose", "Identity"):
            seen = producers[seen].input[0]
        return seen in consts

    return [n.name for n in model.graph.node if n.op_type == "MatMul" and not any(is_const(i) for i in n.input)]


def quantize(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(src))
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{i}"
    model = gemm_to_matmul(model)
    exclude = activation_matmuls(model)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        onnx.save(model, str(prepared))
        quantize_dynamic(
            str(prepared), str(dst),
            op_types_to_quantize=["MatMul", "Gather"],
            nodes_to_exclude=exclude,
            weight_type=QuantType.QInt8,
            per_channel=False,
            extra_options={"MatMulConstBOnly": True},
        )
    check_form(onnx.load(str(dst)))


def check_form(model: onnx.ModelProto) -> None:
    ops = {n.op_type for n in model.graph.node}
    banned = {"QGemm", "QLinearMatMul", "QLinearConv", "QLinearAdd", "QLinearConcat", "QuantizeLinear"}
    found = ops & banned
    if found:
        raise RuntimeError(f"quantized graph holds ops outside the {FORM} form: {sorted(found)}")
    if "MatMulInteger" not in ops:
        raise RuntimeError("quantized graph has no MatMulInteger: nothing was quantized")
    producers = {o: n for n in model.graph.node for o in n.output}
    for n in model.graph.node:
        if n.op_type == "Softmax" and n.input[0] in producers and producers[n.input[0]].op_type == "DequantizeLinear":
            raise RuntimeError(f"Softmax {n.name} reads a DequantizeLinear: tract mis-fuses that pattern")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    args = ap.parse_args()
    quantize(args.src, args.dst)
    print(f"{args.dst}: {args.dst.stat().st_size / 1e6:.1f} MB ({FORM})")


if __name__ == "__main__":
    main()
