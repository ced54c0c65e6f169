//! The inputs of the fal.ai endpoints the bot calls, as fal documents them on
//! `fal.ai/models/<endpoint id>/llms.txt` (read 2026-12-06): the fake fal refuses a submit
//! whose input breaks them with fal's own 422 body (`{"detail": [{"loc", "msg", "type"}]}`),
//! so a wrong field name or type fails a test instead of a real user's work.

use serde_json::{Value, json};

/// What a field must be.
#[derive(Clone, Copy)]
enum Kind {
    Url,
    Text,
    Number {
        min: f64,
        max: f64,
    },
    Integer {
        min: i64,
        max: i64,
    },
    OneOf(&'static [&'static str]),
    Bool,
    /// Checked no further (a nested object or a list of them).
    Any,
}

struct Field {
    name: &'static str,
    required: bool,
    kind: Kind,
}

const fn field(name: &'static str, required: bool, kind: Kind) -> Field {
    Field {
        name,
        required,
        kind,
    }
}

const SEEDVR: &[Field] = &[
    field("image_url", true, Kind::Url),
    field("upscale_mode", false, Kind::OneOf(&["target", "factor"])),
    field(
        "upscale_factor",
        false,
        Kind::Number {
            min: 1.0,
            max: 10.0,
        },
    ),
    field(
        "target_resolution",
        false,
        Kind::OneOf(&["720p", "1080p", "1440p", "2160p"]),
    ),
    field(
        "seed",
        false,
        Kind::Integer {
            min: 0,
            max: i64::MAX,
        },
    ),
    field("noise_scale", false, Kind::Number { min: 0.0, max: 1.0 }),
    field("output_format", false, Kind::OneOf(&["png", "jpg", "webp"])),
    field("sync_mode", false, Kind::Bool),
];

const CLARITY: &[Field] = &[
    field("image_url", true, Kind::Url),
    field("prompt", false, Kind::Text),
    field("upscale_factor", false, Kind::Number { min: 1.0, max: 4.0 }),
    field("negative_prompt", false, Kind::Text),
    field("creativity", false, Kind::Number { min: 0.0, max: 1.0 }),
    field("resemblance", false, Kind::Number { min: 0.0, max: 1.0 }),
    field(
        "guidance_scale",
        false,
        Kind::Number {
            min: 0.0,
            max: 20.0,
        },
    ),
    field(
        "num_inference_steps",
        false,
        Kind::Integer { min: 4, max: 50 },
    ),
    field(
        "seed",
        false,
        Kind::Integer {
            min: 0,
            max: i64::MAX,
        },
    ),
    field("enable_safety_checker", false, Kind::Bool),
];

const FLUX_LORA: &[Field] = &[
    field("prompt", true, Kind::Text),
    field("image_size", false, Kind::Any),
    field(
        "num_inference_steps",
        false,
        Kind::Integer { min: 1, max: 50 },
    ),
    field(
        "seed",
        false,
        Kind::Integer {
            min: 0,
            max: i64::MAX,
        },
    ),
    field("loras", false, Kind::Any),
    field(
        "guidance_scale",
        false,
        Kind::Number {
            min: 0.0,
            max: 35.0,
        },
    ),
    field("sync_mode", false, Kind::Bool),
    field("num_images", false, Kind::Integer { min: 1, max: 4 }),
    field("enable_safety_checker", false, Kind::Bool),
    field("output_format", false, Kind::OneOf(&["jpeg", "png"])),
];

const FLUX_LORA_IMAGE_TO_IMAGE: &[Field] = &[
    field("prompt", true, Kind::Text),
    field("image_url", true, Kind::Url),
    field(
        "strength",
        false,
        Kind::Number {
            min: 0.01,
            max: 1.0,
        },
    ),
    field("image_size", false, Kind::Any),
    field(
        "num_inference_steps",
        false,
        Kind::Integer { min: 1, max: 50 },
    ),
    field(
        "seed",
        false,
        Kind::Integer {
            min: 0,
            max: i64::MAX,
        },
    ),
    field("loras", false, Kind::Any),
    field(
        "guidance_scale",
        false,
        Kind::Number {
            min: 0.0,
            max: 35.0,
        },
    ),
    field("sync_mode", false, Kind::Bool),
    field("num_images", false, Kind::Integer { min: 1, max: 4 }),
    field("enable_safety_checker", false, Kind::Bool),
    field("output_format", false, Kind::OneOf(&["jpeg", "png"])),
];

/// PuLID on FLUX (llms.txt and fal-js's generated `FluxPulidInput`): one reference photo.
const FLUX_PULID: &[Field] = &[
    field("prompt", true, Kind::Text),
    field("reference_image_url", true, Kind::Url),
    field(
        "image_size",
        false,
        Kind::OneOf(&[
            "square_hd",
            "square",
            "portrait_4_3",
            "portrait_16_9",
            "landscape_4_3",
            "landscape_16_9",
        ]),
    ),
    field(
        "num_inference_steps",
        false,
        Kind::Integer { min: 1, max: 50 },
    ),
    field(
        "seed",
        false,
        Kind::Integer {
            min: 0,
            max: i64::MAX,
        },
    ),
    field(
        "guidance_scale",
        false,
        Kind::Number {
            min: 0.0,
            max: 20.0,
        },
    ),
    field("negative_prompt", false, Kind::Text),
    field("sync_mode", false, Kind::Bool),
    field("start_step", false, Kind::Integer { min: 0, max: 50 }),
    field(
        "true_cfg",
        false,
        Kind::Number {
            min: 0.0,
            max: 20.0,
        },
    ),
    field("id_weight", false, Kind::Number { min: 0.0, max: 3.0 }),
    field(
        "max_sequence_length",
        false,
        Kind::OneOf(&["128", "256", "512"]),
    ),
    field("enable_safety_checker", false, Kind::Bool),
];

fn schema(endpoint: &str) -> Option<&'static [Field]> {
    match endpoint {
        "fal-ai/seedvr/upscale/image" => Some(SEEDVR),
        "fal-ai/clarity-upscaler" => Some(CLARITY),
        "fal-ai/flux-lora" => Some(FLUX_LORA),
        "fal-ai/flux-lora/image-to-image" => Some(FLUX_LORA_IMAGE_TO_IMAGE),
        "fal-ai/flux-pulid" => Some(FLUX_PULID),
        _ => None,
    }
}

/// fal's 422 body for `input` to `endpoint`, or `None` when it is valid (or the endpoint's
/// schema is not written down here).
pub fn refusal(endpoint: &str, input: &Value) -> Option<Value> {
    let fields = schema(endpoint)?;
    let Some(object) = input.as_object() else {
        return Some(detail(
            "body",
            "Input should be a valid dictionary",
            "dict_type",
        ));
    };
    for f in fields {
        match (object.get(f.name), f.required) {
            (None, true) => return Some(detail(f.name, "Field required", "missing")),
            (None, false) => {}
            (Some(value), _) => {
                if let Some((msg, kind)) = wrong(f.kind, value) {
                    return Some(detail(f.name, &msg, kind));
                }
            }
        }
    }
    // fal's models take only what they list; a name we made up would be silently ignored
    // there, and a silently ignored setting is a bug.
    if let Some(unknown) = object.keys().find(|k| fields.iter().all(|f| f.name != *k)) {
        return Some(detail(
            unknown,
            "Extra inputs are not permitted",
            "extra_forbidden",
        ));
    }
    None
}

fn wrong(kind: Kind, value: &Value) -> Option<(String, &'static str)> {
    match kind {
        Kind::Url => match value.as_str() {
            Some(s)
                if s.starts_with("https://")
                    || s.starts_with("http://")
                    || s.starts_with("data:") =>
            {
                None
            }
            _ => Some(("Input should be a valid URL".into(), "url_type")),
        },
        Kind::Text => {
            (!value.is_string()).then(|| ("Input should be a valid string".into(), "string_type"))
        }
        Kind::Number { min, max } => match value.as_f64() {
            Some(n) if (min..=max).contains(&n) => None,
            Some(_) => Some((
                format!("Input should be between {min} and {max}"),
                "less_than_equal",
            )),
            None => Some(("Input should be a valid number".into(), "float_type")),
        },
        Kind::Integer { min, max } => match value.as_i64() {
            Some(n) if (min..=max).contains(&n) => None,
            Some(_) => Some((
                format!("Input should be between {min} and {max}"),
                "less_than_equal",
            )),
            None => Some(("Input should be a valid integer".into(), "int_type")),
        },
        Kind::OneOf(options) => match value.as_str() {
            Some(s) if options.contains(&s) => None,
            _ => Some((format!("Input should be one of {options:?}"), "enum")),
        },
        Kind::Bool => {
            (!value.is_boolean()).then(|| ("Input should be a valid boolean".into(), "bool_type"))
        }
        Kind::Any => None,
    }
}

fn detail(name: &str, msg: &str, kind: &str) -> Value {
    json!({"detail": [{"loc": ["body", name], "msg": msg, "type": kind}]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_inputs_pass_and_others_are_named() {
        let seedvr = "fal-ai/seedvr/upscale/image";
        let ok =
            json!({"image_url": "https://b/x.jpg", "upscale_mode": "factor", "upscale_factor": 2});
        assert_eq!(refusal(seedvr, &ok), None);
        let missing = refusal(seedvr, &json!({"upscale_factor": 2})).unwrap();
        assert_eq!(missing["detail"][0]["loc"], json!(["body", "image_url"]));
        let extra = refusal(seedvr, &json!({"image_url": "https://b/x.jpg", "scale": 2})).unwrap();
        assert_eq!(extra["detail"][0]["type"], "extra_forbidden");
        let big = refusal(
            "fal-ai/clarity-upscaler",
            &json!({"image_url": "https://b", "upscale_factor": 8}),
        );
        assert!(big.is_some());
        assert_eq!(refusal("fal-ai/some-trainer", &json!({})), None);
    }
}
