//! Text summaries, for TensorBoard's Text dashboard: a markdown string as a
//! scalar `DT_STRING` tensor, marked for the "text" plugin. The dashboard
//! renders it as markdown (tables included) at its step.

use prost::Message;

use crate::proto::{summary, DataClass, DataType, TensorProto, TensorShapeProto, TextPluginData};
use crate::summary::builders::plugin_metadata;

/// The plugin name TensorBoard's Text dashboard reads.
pub const PLUGIN_NAME: &str = "text";

/// A text summary holding `markdown` under `tag`.
pub fn text(tag: &str, markdown: &str) -> summary::Value {
    let content = TextPluginData { version: 0 }.encode_to_vec();
    summary::Value {
        tag: tag.to_string(),
        metadata: Some(plugin_metadata(PLUGIN_NAME, content, DataClass::Tensor)),
        value: Some(summary::value::Value::Tensor(TensorProto {
            dtype: DataType::DtString as i32,
            // No dimensions: a scalar, which the dashboard renders as one
            // markdown document rather than as a table of strings.
            tensor_shape: Some(TensorShapeProto::default()),
            string_val: vec![markdown.as_bytes().to_vec()],
            ..Default::default()
        })),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Summary;

    #[test]
    fn a_scalar_string_tensor_for_the_text_plugin() {
        let value = text("config", "| a | b |\n| --- | --- |\n| 1 | 2 |\n");
        let bytes = Summary { value: vec![value] }.encode_to_vec();
        let decoded = &Summary::decode(bytes.as_slice()).unwrap().value[0];
        assert_eq!(decoded.tag, "config");
        let metadata = decoded.metadata.as_ref().unwrap();
        let plugin = metadata.plugin_data.as_ref().unwrap();
        assert_eq!(plugin.plugin_name, "text");
        assert_eq!(
            TextPluginData::decode(plugin.content.as_slice())
                .unwrap()
                .version,
            0
        );
        assert_eq!(metadata.data_class, DataClass::Tensor as i32);
        let Some(summary::value::Value::Tensor(t)) = &decoded.value else {
            panic!("not a tensor: {decoded:?}")
        };
        assert_eq!(t.dtype, DataType::DtString as i32);
        assert!(t.tensor_shape.as_ref().unwrap().dim.is_empty());
        assert_eq!(
            t.string_val,
            [b"| a | b |\n| --- | --- |\n| 1 | 2 |\n".to_vec()]
        );
    }
}
