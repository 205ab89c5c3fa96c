//! JSON Schema of the pipeline format, generated from the stage registry so editors can
//! complete stage types and their parameters (`neuropipe schema > pipeline.schema.json`).

use crate::config::{MAX_CAPACITY, MAX_CHANNELS, MAX_FRAMES, MAX_POOL_COUNT, MAX_THREADS};
use crate::registry::Registry;
use serde_json::{json, Map, Value};

/// The JSON Schema (draft 2020-12) of pipeline files for the stage types in `registry`.
pub fn pipeline_schema(registry: &Registry) -> Value {
    let stage_variants: Vec<Value> = registry
        .specs()
        .map(|spec| {
            let mut props = Map::new();
            let mut required = vec![];
            for p in &spec.params {
                props.insert(p.name.to_string(), p.json_schema());
                if p.required() {
                    required.push(p.name);
                }
            }
            let mut stage_props = json!({
                "id": {"$ref": "#/$defs/id"},
                "type": {"const": spec.type_name, "description": spec.summary},
                "description": {"type": "string"},
                "params": {
                    "type": "object",
                    "properties": props,
                    "required": required,
                    "additionalProperties": false
                }
            });
            if spec.stream_info {
                stage_props["stream"] = json!({"$ref": "#/$defs/stream"});
            }
            json!({
                "type": "object",
                "title": spec.type_name,
                "description": spec.summary,
                "properties": stage_props,
                "required": ["id", "type"],
                "additionalProperties": false
            })
        })
        .collect();
    let endpoint = "^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_]+)?$";
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "neuropipe pipeline",
        "type": "object",
        "required": ["stages"],
        "additionalProperties": false,
        "properties": {
            "$schema": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "threads": {"type": "integer", "minimum": 1, "maximum": MAX_THREADS,
                        "description": "worker threads the stages run on (default: one per CPU; 1 is the cheapest for a paced pipeline)"},
            "pools": {"type": "array", "items": {"$ref": "#/$defs/pool"}},
            "stages": {"type": "array", "minItems": 1, "items": {"oneOf": stage_variants}},
            "links": {"type": "array", "items": {"$ref": "#/$defs/link"}}
        },
        "$defs": {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
            "pool": {
                "type": "object",
                "required": ["name", "payload", "frames", "channels", "count"],
                "additionalProperties": false,
                "properties": {
                    "name": {"type": "string"},
                    "payload": {"enum": ["i32", "f32", "f64"]},
                    "frames": {"type": "integer", "minimum": 1, "maximum": MAX_FRAMES},
                    "channels": {"type": "integer", "minimum": 1, "maximum": MAX_CHANNELS},
                    "count": {"type": "integer", "minimum": 1, "maximum": MAX_POOL_COUNT}
                }
            },
            "stream": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "name": {"type": "string"},
                    "type": {"type": "string"},
                    "labels": {"type": "array", "items": {"type": "string"}},
                    "types": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                    "source_id": {"type": "string", "description": "the device's source id (e.g. its serial number), recorded in XDF"},
                    "manufacturer": {"type": "string", "description": "the device's manufacturer, recorded in XDF"}
                }
            },
            "link": {
                "oneOf": [
                    {"type": "string", "pattern": "^\\s*[A-Za-z0-9_.-]+\\s*->\\s*[A-Za-z0-9_.-]+\\s*$",
                     "description": "\"stage.port -> stage.port\""},
                    {
                        "type": "object",
                        "required": ["from", "to"],
                        "additionalProperties": false,
                        "properties": {
                            "from": {"type": "string", "pattern": endpoint},
                            "to": {"type": "string", "pattern": endpoint},
                            "capacity": {"type": "integer", "minimum": 1, "maximum": MAX_CAPACITY, "default": crate::DEFAULT_CAPACITY},
                            "policy": {"enum": ["block", "drop-newest", "drop-oldest"], "default": "block"}
                        }
                    }
                ]
            }
        }
    })
}
