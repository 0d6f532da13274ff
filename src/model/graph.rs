//! The MLP as a TensorBoard graph, for the Graphs dashboard: each node
//! named after the TensorFlow op that computes the same thing, grouped by
//! layer (`layer1/MatMul` sits in the box `layer1`), with the shapes the
//! dashboard prints on the edges (`?` is the batch dimension). Built with
//! the generic [`gradscope_tensorboard::graph`] builder.

use gradscope_tensorboard::graph::{Graph, Node};
use gradscope_tensorboard::proto::{DataType, GraphDef, TensorProto};

use crate::model::{Activation, ActivationFn, Shape};

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
    let (inputs, outputs) = (shape.inputs as i64, shape.outputs as i64);
    let mut graph = Graph::new();
    graph
        .add(Node::placeholder("input", float, &[-1, inputs]))
        .add(Node::placeholder("labels", DataType::DtInt64, &[-1]));
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
        graph
            .add(Node::variable(&kernel, &[fan_in, fan_out]))
            .add(Node::variable(&bias, &[fan_out]))
            .add(
                Node::new(&matmul, "MatMul")
                    .inputs(&[&previous, &kernel])
                    .type_attr("T", float)
                    .bool_attr("transpose_a", false)
                    .bool_attr("transpose_b", false)
                    .output_shapes(&[&[-1, fan_out]]),
            )
            .add(
                Node::new(&bias_add, "BiasAdd")
                    .inputs(&[&matmul, &bias])
                    .type_attr("T", float)
                    .output_shapes(&[&[-1, fan_out]]),
            );
        previous = bias_add;
        let hidden = i + 1 < sizes.len();
        if hidden {
            let op = tensorflow_op(activation.kind);
            let block_input = std::mem::take(&mut previous_block);
            let name = format!("{scope}/{op}");
            let mut act = Node::new(&name, op)
                .inputs(&[&previous])
                .type_attr("T", float)
                .output_shapes(&[&[-1, fan_out]]);
            if activation.kind == Activation::LeakyRelu {
                act = act.float_attr("alpha", activation.leaky_slope as f32);
            }
            graph.add(act);
            previous = name;
            if residual && i > 0 {
                let add = format!("{scope}/add");
                graph.add(
                    Node::new(&add, "AddV2")
                        .inputs(&[&block_input, &previous])
                        .type_attr("T", float)
                        .output_shapes(&[&[-1, fan_out]]),
                );
                previous = add;
            }
            previous_block = previous.clone();
        }
    }
    let xent = "loss/SparseSoftmaxCrossEntropyWithLogits";
    // The axis the mean runs over: the batch.
    let batch_axis = TensorProto {
        dtype: DataType::DtInt32 as i32,
        tensor_shape: Some(gradscope_tensorboard::graph::tensor_shape(&[1])),
        int_val: vec![0],
        ..Default::default()
    };
    graph
        .add(
            Node::new("logits", "Identity")
                .inputs(&[&previous])
                .type_attr("T", float)
                .output_shapes(&[&[-1, outputs]]),
        )
        .add(
            Node::new(xent, "SparseSoftmaxCrossEntropyWithLogits")
                .inputs(&["logits", "labels"])
                .type_attr("T", float)
                .type_attr("Tlabels", DataType::DtInt64)
                .output_shapes(&[&[-1], &[-1, outputs]]),
        )
        .add(
            Node::new("loss/Const", "Const")
                .type_attr("dtype", DataType::DtInt32)
                .tensor_attr("value", batch_axis)
                .output_shapes(&[&[1]]),
        )
        .add(
            Node::new("loss/Mean", "Mean")
                .inputs(&[xent, "loss/Const"])
                .type_attr("T", float)
                .type_attr("Tidx", DataType::DtInt32)
                .bool_attr("keep_dims", false)
                .output_shapes(&[&[]]),
        );
    graph
        .build()
        .expect("every input names a node added before it")
}

/// The TensorFlow op computing `activation` (linear is an `Identity`).
fn tensorflow_op(activation: Activation) -> &'static str {
    match activation {
        Activation::Sigmoid => "Sigmoid",
        Activation::Relu => "Relu",
        Activation::LeakyRelu => "LeakyRelu",
        Activation::Tanh => "Tanh",
        Activation::Elu => "Elu",
        Activation::Selu => "Selu",
        Activation::Gelu => "Gelu",
        Activation::Softplus => "Softplus",
        Activation::Linear => "Identity",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradscope_tensorboard::proto::{attr_value, NodeDef};

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
}
