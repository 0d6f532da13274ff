//! Graph summaries, for TensorBoard's Graphs dashboard: a model drawn as a
//! TensorFlow `GraphDef` in an event's `graph_def` field.
//!
//! The graph is a description, not something that runs. Give each node the
//! name of the TensorFlow op that computes the same thing (`MatMul`,
//! `BiasAdd`, `Relu`, ...) and the dashboard draws and labels it as it would
//! a TensorFlow model. Nodes are grouped by name scope (`layer1/MatMul` sits
//! in the box `layer1`), and the `_output_shapes` that
//! [`Node::output_shapes`] sets are printed on the edges (`-1`, shown as
//! `?`, is an unknown dimension such as the batch).
//!
//! ```
//! use gradscope_tensorboard::graph::{graph_event, Graph, Node};
//! use gradscope_tensorboard::proto::DataType;
//!
//! let mut graph = Graph::new();
//! graph
//!     .add(Node::placeholder("input", DataType::DtFloat, &[-1, 784]))
//!     .add(Node::variable("dense/kernel", &[784, 10]))
//!     .add(
//!         Node::new("dense/MatMul", "MatMul")
//!             .inputs(&["input", "dense/kernel"])
//!             .type_attr("T", DataType::DtFloat)
//!             .output_shapes(&[&[-1, 10]]),
//!     );
//! let graph = graph.build()?;
//! let event = graph_event(0, 1.7e9, &graph);
//! assert_eq!(graph.node.len(), 3);
//! # assert!(event.what.is_some());
//! # Ok::<(), gradscope_tensorboard::graph::GraphError>(())
//! ```

use std::collections::BTreeSet;
use std::fmt;

use prost::Message;

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

/// A graph under construction: nodes in the order they are added.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    nodes: Vec<NodeDef>,
}

/// Why [`Graph::build`] refused a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphError {
    /// Two nodes share a name; the dashboard would draw only one.
    DuplicateNode {
        /// The name used twice.
        name: String,
    },
    /// A node reads from a name no node has.
    UnknownInput {
        /// The node that reads it.
        node: String,
        /// The input as the node names it.
        input: String,
    },
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::DuplicateNode { name } => {
                write!(
                    f,
                    "graph: two nodes are named {name:?}; names must be unique"
                )
            }
            GraphError::UnknownInput { node, input } => write!(
                f,
                "graph: node {node:?} reads {input:?}, which no node of the graph is named; \
                 add that node first or fix the input's name"
            ),
        }
    }
}

impl std::error::Error for GraphError {}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Appends `node`.
    pub fn add(&mut self, node: Node) -> &mut Graph {
        self.nodes.push(node.0);
        self
    }

    /// The `GraphDef`, once every node's name is unique and every input
    /// (`name`, `name:1` for a second output, `^name` for a control input)
    /// names a node of the graph.
    pub fn build(&self) -> Result<GraphDef, GraphError> {
        let mut names = BTreeSet::new();
        for node in &self.nodes {
            if !names.insert(node.name.as_str()) {
                return Err(GraphError::DuplicateNode {
                    name: node.name.clone(),
                });
            }
        }
        for node in &self.nodes {
            for input in &node.input {
                let source = input.trim_start_matches('^');
                let source = source.split(':').next().unwrap_or(source);
                if !names.contains(source) {
                    return Err(GraphError::UnknownInput {
                        node: node.name.clone(),
                        input: input.clone(),
                    });
                }
            }
        }
        Ok(GraphDef {
            node: self.nodes.clone(),
            versions: None,
        })
    }
}

/// One node: a name (its `/`-separated scope included), the TensorFlow op
/// it stands for, its inputs and attributes. Built as one expression:
///
/// ```
/// use gradscope_tensorboard::graph::Node;
/// use gradscope_tensorboard::proto::DataType;
///
/// let relu = Node::new("layer1/Relu", "Relu")
///     .inputs(&["layer1/BiasAdd"])
///     .type_attr("T", DataType::DtFloat)
///     .output_shapes(&[&[-1, 10]])
///     .into_proto();
/// assert_eq!(relu.input, ["layer1/BiasAdd"]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Node(NodeDef);

impl Node {
    /// A node named `name` standing for the TensorFlow op `op`.
    pub fn new(name: &str, op: &str) -> Node {
        Node(NodeDef {
            name: name.to_string(),
            op: op.to_string(),
            ..Default::default()
        })
    }

    /// A graph input of `dtype` and shape `dims` (`-1` for unknown), as
    /// TensorFlow 1 declares one.
    pub fn placeholder(name: &str, dtype: DataType, dims: &[i64]) -> Node {
        Node::new(name, "Placeholder")
            .type_attr("dtype", dtype)
            .shape_attr("shape", dims)
            .output_shapes(&[dims])
    }

    /// A trainable float variable of shape `dims`.
    pub fn variable(name: &str, dims: &[i64]) -> Node {
        Node::new(name, "VariableV2")
            .type_attr("dtype", DataType::DtFloat)
            .shape_attr("shape", dims)
            .output_shapes(&[dims])
    }

    /// Adds inputs: each the first output of the node it names.
    pub fn inputs(mut self, inputs: &[&str]) -> Node {
        self.0.input.extend(inputs.iter().map(|s| s.to_string()));
        self
    }

    /// Sets the attribute `key`.
    pub fn attr(mut self, key: &str, value: AttrValue) -> Node {
        self.0.attr.insert(key.to_string(), value);
        self
    }

    /// Sets a type attribute (`T`, `dtype`, ...).
    pub fn type_attr(self, key: &str, dtype: DataType) -> Node {
        self.attr(key, attr(attr_value::Value::Type(dtype as i32)))
    }

    /// Sets a boolean attribute.
    pub fn bool_attr(self, key: &str, value: bool) -> Node {
        self.attr(key, attr(attr_value::Value::B(value)))
    }

    /// Sets a float attribute (`alpha` of `LeakyRelu`, ...).
    pub fn float_attr(self, key: &str, value: f32) -> Node {
        self.attr(key, attr(attr_value::Value::F(value)))
    }

    /// Sets a shape attribute.
    pub fn shape_attr(self, key: &str, dims: &[i64]) -> Node {
        self.attr(key, attr(attr_value::Value::Shape(tensor_shape(dims))))
    }

    /// Sets a tensor attribute (the `value` of a `Const`).
    pub fn tensor_attr(self, key: &str, tensor: TensorProto) -> Node {
        self.attr(key, attr(attr_value::Value::Tensor(tensor)))
    }

    /// The shape of each output (`-1` for an unknown dimension), which the
    /// dashboard prints on the edges.
    pub fn output_shapes(self, outputs: &[&[i64]]) -> Node {
        let list = attr_value::ListValue {
            shape: outputs.iter().map(|dims| tensor_shape(dims)).collect(),
            ..Default::default()
        };
        self.attr("_output_shapes", attr(attr_value::Value::List(list)))
    }

    /// The node as the protobuf message.
    pub fn into_proto(self) -> NodeDef {
        self.0
    }
}

/// A tensor shape of `dims`, `-1` for an unknown dimension.
pub fn tensor_shape(dims: &[i64]) -> TensorShapeProto {
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

fn attr(value: attr_value::Value) -> AttrValue {
    AttrValue { value: Some(value) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_nodes() -> Graph {
        let mut g = Graph::new();
        g.add(Node::placeholder("x", DataType::DtFloat, &[-1, 3]))
            .add(Node::new("y", "Identity").inputs(&["x"]));
        g
    }

    #[test]
    fn nodes_keep_their_order_inputs_and_attributes() {
        let g = two_nodes().build().unwrap();
        let names: Vec<&str> = g.node.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["x", "y"]);
        assert_eq!(g.node[1].input, ["x"]);
        assert_eq!(
            g.node[0].attr["dtype"].value,
            Some(attr_value::Value::Type(DataType::DtFloat as i32))
        );
        let Some(attr_value::Value::List(l)) = &g.node[0].attr["_output_shapes"].value else {
            panic!("no _output_shapes")
        };
        let dims: Vec<i64> = l.shape[0].dim.iter().map(|d| d.size).collect();
        assert_eq!(dims, [-1, 3]);
    }

    #[test]
    fn a_dangling_input_or_a_repeated_name_is_refused() {
        let mut g = two_nodes();
        g.add(Node::new("z", "AddV2").inputs(&["y", "w:1"]));
        let err = g.build().unwrap_err();
        assert_eq!(
            err,
            GraphError::UnknownInput {
                node: "z".into(),
                input: "w:1".into()
            }
        );
        assert!(err.to_string().contains("\"w:1\""), "{err}");
        let mut g = two_nodes();
        g.add(Node::new("x", "Identity"));
        assert!(matches!(g.build(), Err(GraphError::DuplicateNode { .. })));
        // Second outputs and control inputs name their node.
        let mut g = two_nodes();
        g.add(Node::new("z", "AddV2").inputs(&["y:1", "^x"]));
        assert!(g.build().is_ok());
    }

    #[test]
    fn graph_event_decodes_back_to_the_graph() {
        let g = two_nodes().build().unwrap();
        let e = Event::decode(graph_event(0, 1.0, &g).encode_to_vec().as_slice()).unwrap();
        let Some(event::What::GraphDef(bytes)) = e.what else {
            panic!("no graph_def")
        };
        assert_eq!(GraphDef::decode(bytes.as_slice()).unwrap(), g);
    }
}
