//! Graph summaries, for TensorBoard's Graphs dashboard: the network drawn as
//! a TensorFlow `GraphDef` in an event's `graph_def` field.
//!
//! The graph is a description, not something that runs: each node uses the
//! name of the TensorFlow op that computes the same thing, so the dashboard
//! draws and labels it as it would a TensorFlow model. Nodes are grouped by
//! name scope (`layer1/MatMul` sits in the box `layer1`), and every node
//! carries `_output_shapes`, which the dashboard prints on the edges
//! (`?` is the batch dimension).

use prost::Message;

use crate::model::{Activation, ActivationFn, Shape};
use crate::proto::{
    attr_value, event, tensor_shape_proto, AttrValue, DataType, Event, GraphDef, NodeDef,
    TensorProto, TensorShapeProto,
};

/// An event carrying `graph` in its `graph_def` field, which TensorBoard
/// shows as the run's graph.
pub fn graph_event(step: i64, wall_time: f64, graph: &GraphDef) -> Event {
    Event {
        wall_time,
        step,
        what: Some(event::What::GraphDef(graph.encode_to_vec())),
    }
}

/// The MLP of `shape` with `activation` after each hidden layer, from the
/// input placeholder to the mean cross-entropy loss:
///
/// ```text
/// input -> layer1/{MatMul(kernel), BiasAdd(bias), <Activation>} -> ...
///       -> layerN/{MatMul, BiasAdd} -> logits -> loss/Mean <- labels
/// ```
///
/// With `residual`, each hidden layer after the first ends in `layerN/add`,
/// its input plus its activation.
pub fn mlp_graph(shape: &Shape, activation: ActivationFn, residual: bool) -> GraphDef {
    let float = DataType::DtFloat;
    let mut nodes = vec![
        node("input", "Placeholder", &[])
            .attr("dtype", dtype(float))
            .attr("shape", shape_attr(&[-1, shape.inputs as i64]))
            .shapes(&[&[-1, shape.inputs as i64]]),
        node("labels", "Placeholder", &[])
            .attr("dtype", dtype(DataType::DtInt64))
            .attr("shape", shape_attr(&[-1]))
            .shapes(&[&[-1]]),
    ];
    let sizes = shape.layer_sizes();
    let mut previous = "input".to_string();
    // The output of the previous hidden layer: what a skip connection adds back.
    let mut previous_block = previous.clone();
    for (i, &(fan_in, fan_out)) in sizes.iter().enumerate() {
        let scope = format!("layer{}", i + 1);
        let (fan_in, fan_out) = (fan_in as i64, fan_out as i64);
        let kernel = format!("{scope}/kernel");
        let bias = format!("{scope}/bias");
        let matmul = format!("{scope}/MatMul");
        let bias_add = format!("{scope}/BiasAdd");
        nodes.push(variable(&kernel, &[fan_in, fan_out]));
        nodes.push(variable(&bias, &[fan_out]));
        nodes.push(
            node(&matmul, "MatMul", &[&previous, &kernel])
                .attr("T", dtype(float))
                .attr("transpose_a", bool_attr(false))
                .attr("transpose_b", bool_attr(false))
                .shapes(&[&[-1, fan_out]]),
        );
        nodes.push(
            node(&bias_add, "BiasAdd", &[&matmul, &bias])
                .attr("T", dtype(float))
                .shapes(&[&[-1, fan_out]]),
        );
        previous = bias_add;
        let hidden = i + 1 < sizes.len();
        if hidden {
            // TensorFlow's op names; linear is an Identity.
            let (op, alpha) = match activation.kind {
                Activation::Sigmoid => ("Sigmoid", None),
                Activation::Relu => ("Relu", None),
                Activation::LeakyRelu => ("LeakyRelu", Some(activation.leaky_slope as f32)),
                Activation::Tanh => ("Tanh", None),
                Activation::Elu => ("Elu", None),
                Activation::Selu => ("Selu", None),
                Activation::Gelu => ("Gelu", None),
                Activation::Softplus => ("Softplus", None),
                Activation::Linear => ("Identity", None),
            };
            let block_input = std::mem::take(&mut previous_block);
            let name = format!("{scope}/{op}");
            let mut act = node(&name, op, &[&previous])
                .attr("T", dtype(float))
                .shapes(&[&[-1, fan_out]]);
            if let Some(alpha) = alpha {
                act = act.attr(
                    "alpha",
                    AttrValue {
                        value: Some(attr_value::Value::F(alpha)),
                    },
                );
            }
            nodes.push(act);
            previous = name;
            if residual && i > 0 {
                let add = format!("{scope}/add");
                nodes.push(
                    node(&add, "AddV2", &[&block_input, &previous])
                        .attr("T", dtype(float))
                        .shapes(&[&[-1, fan_out]]),
                );
                previous = add;
            }
            previous_block = previous.clone();
        }
    }
    let outputs = shape.outputs as i64;
    let xent = "loss/SparseSoftmaxCrossEntropyWithLogits";
    nodes.extend([
        node("logits", "Identity", &[&previous])
            .attr("T", dtype(float))
            .shapes(&[&[-1, outputs]]),
        node(
            xent,
            "SparseSoftmaxCrossEntropyWithLogits",
            &["logits", "labels"],
        )
        .attr("T", dtype(float))
        .attr("Tlabels", dtype(DataType::DtInt64))
        .shapes(&[&[-1], &[-1, outputs]]),
        // The axis the mean runs over: the batch.
        node("loss/Const", "Const", &[])
            .attr("dtype", dtype(DataType::DtInt32))
            .attr(
                "value",
                AttrValue {
                    value: Some(attr_value::Value::Tensor(TensorProto {
                        dtype: DataType::DtInt32 as i32,
                        tensor_shape: Some(tensor_shape(&[1])),
                        int_val: vec![0],
                        ..Default::default()
                    })),
                },
            )
            .shapes(&[&[1]]),
        node("loss/Mean", "Mean", &[xent, "loss/Const"])
            .attr("T", dtype(float))
            .attr("Tidx", dtype(DataType::DtInt32))
            .attr("keep_dims", bool_attr(false))
            .shapes(&[&[]]),
    ]);
    GraphDef {
        node: nodes,
        versions: None,
    }
}

/// A node of `op` reading the first output of each of `inputs`.
fn node(name: &str, op: &str, inputs: &[&str]) -> NodeDef {
    NodeDef {
        name: name.to_string(),
        op: op.to_string(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// Attribute setters, so a node reads as one expression.
trait NodeExt {
    fn attr(self, key: &str, value: AttrValue) -> Self;
    /// The shape of each output, `-1` for an unknown dimension.
    fn shapes(self, outputs: &[&[i64]]) -> Self;
}

impl NodeExt for NodeDef {
    fn attr(mut self, key: &str, value: AttrValue) -> NodeDef {
        self.attr.insert(key.to_string(), value);
        self
    }

    fn shapes(self, outputs: &[&[i64]]) -> NodeDef {
        let list = attr_value::ListValue {
            shape: outputs.iter().map(|dims| tensor_shape(dims)).collect(),
            ..Default::default()
        };
        self.attr(
            "_output_shapes",
            AttrValue {
                value: Some(attr_value::Value::List(list)),
            },
        )
    }
}

/// A trainable float variable of `dims`, as TensorFlow 1 declares one.
fn variable(name: &str, dims: &[i64]) -> NodeDef {
    node(name, "VariableV2", &[])
        .attr("dtype", dtype(DataType::DtFloat))
        .attr("shape", shape_attr(dims))
        .shapes(&[dims])
}

fn tensor_shape(dims: &[i64]) -> TensorShapeProto {
    TensorShapeProto {
        dim: dims
            .iter()
            .map(|&size| tensor_shape_proto::Dim {
                size,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn shape_attr(dims: &[i64]) -> AttrValue {
    AttrValue {
        value: Some(attr_value::Value::Shape(tensor_shape(dims))),
    }
}

fn dtype(t: DataType) -> AttrValue {
    AttrValue {
        value: Some(attr_value::Value::Type(t as i32)),
    }
}

fn bool_attr(b: bool) -> AttrValue {
    AttrValue {
        value: Some(attr_value::Value::B(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(kind: Activation) -> ActivationFn {
        ActivationFn::new(kind, 0.2)
    }

    #[test]
    fn residual_layers_add_their_input_back() {
        let g = mlp_graph(&shape(4), act(Activation::Tanh), true);
        assert!(
            g.node.iter().all(|n| n.name != "layer1/add"),
            "no skip at the first layer"
        );
        let add = find(&g, "layer2/add");
        assert_eq!(add.op, "AddV2");
        assert_eq!(add.input, ["layer1/Tanh", "layer2/Tanh"]);
        assert_eq!(find(&g, "layer3/add").input, ["layer2/add", "layer3/Tanh"]);
        assert_eq!(
            find(&g, "layer4/MatMul").input,
            ["layer3/add", "layer4/kernel"]
        );
    }

    fn shape(layers: usize) -> Shape {
        Shape {
            inputs: 784,
            hidden: 10,
            outputs: 10,
            layers,
        }
    }

    fn find<'a>(g: &'a GraphDef, name: &str) -> &'a NodeDef {
        g.node
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    fn output_shape(n: &NodeDef) -> Vec<i64> {
        let Some(attr_value::Value::List(l)) = &n.attr["_output_shapes"].value else {
            panic!("{} has no _output_shapes", n.name)
        };
        l.shape[0].dim.iter().map(|d| d.size).collect()
    }

    #[test]
    fn every_layer_is_matmul_biasadd_activation_in_its_scope() {
        let g = mlp_graph(&shape(3), act(Activation::Relu), false);
        let names: Vec<&str> = g.node.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "input",
                "labels",
                "layer1/kernel",
                "layer1/bias",
                "layer1/MatMul",
                "layer1/BiasAdd",
                "layer1/Relu",
                "layer2/kernel",
                "layer2/bias",
                "layer2/MatMul",
                "layer2/BiasAdd",
                "layer2/Relu",
                "layer3/kernel",
                "layer3/bias",
                "layer3/MatMul",
                "layer3/BiasAdd",
                "logits",
                "loss/SparseSoftmaxCrossEntropyWithLogits",
                "loss/Const",
                "loss/Mean",
            ]
        );
        assert_eq!(find(&g, "layer1/MatMul").input, ["input", "layer1/kernel"]);
        assert_eq!(
            find(&g, "layer2/MatMul").input,
            ["layer1/Relu", "layer2/kernel"]
        );
        assert_eq!(
            find(&g, "layer2/BiasAdd").input,
            ["layer2/MatMul", "layer2/bias"]
        );
        // No activation after the output layer.
        assert_eq!(find(&g, "logits").input, ["layer3/BiasAdd"]);
        assert_eq!(
            find(&g, "loss/SparseSoftmaxCrossEntropyWithLogits").input,
            ["logits", "labels"]
        );
        assert_eq!(find(&g, "loss/Mean").op, "Mean");
        // Every input names a node of the graph.
        for n in &g.node {
            for input in &n.input {
                find(&g, input);
            }
        }
    }

    #[test]
    fn shapes_follow_the_model() {
        let g = mlp_graph(&shape(2), act(Activation::Sigmoid), false);
        assert_eq!(output_shape(find(&g, "input")), [-1, 784]);
        assert_eq!(output_shape(find(&g, "layer1/kernel")), [784, 10]);
        assert_eq!(output_shape(find(&g, "layer1/bias")), [10]);
        assert_eq!(output_shape(find(&g, "layer1/Sigmoid")), [-1, 10]);
        assert_eq!(output_shape(find(&g, "layer2/kernel")), [10, 10]);
        assert_eq!(output_shape(find(&g, "logits")), [-1, 10]);
        assert_eq!(output_shape(find(&g, "loss/Mean")), Vec::<i64>::new());
        let Some(attr_value::Value::Type(t)) = find(&g, "layer1/MatMul").attr["T"].value else {
            panic!("MatMul has no T")
        };
        assert_eq!(t, DataType::DtFloat as i32);
    }

    #[test]
    fn leaky_relu_carries_its_slope_and_one_layer_has_no_activation() {
        let g = mlp_graph(&shape(2), act(Activation::LeakyRelu), false);
        let leaky = find(&g, "layer1/LeakyRelu");
        assert_eq!(leaky.op, "LeakyRelu");
        assert_eq!(leaky.attr["alpha"].value, Some(attr_value::Value::F(0.2)));
        let single = mlp_graph(&shape(1), act(Activation::Sigmoid), false);
        assert!(single.node.iter().all(|n| n.op != "Sigmoid"));
        assert_eq!(find(&single, "layer1/MatMul").input[0], "input");
    }

    #[test]
    fn graph_event_decodes_back_to_the_graph() {
        let g = mlp_graph(&shape(6), act(Activation::Relu), false);
        let e = Event::decode(graph_event(0, 1.0, &g).encode_to_vec().as_slice()).unwrap();
        let Some(event::What::GraphDef(bytes)) = e.what else {
            panic!("no graph_def")
        };
        assert_eq!(GraphDef::decode(bytes.as_slice()).unwrap(), g);
    }
}
