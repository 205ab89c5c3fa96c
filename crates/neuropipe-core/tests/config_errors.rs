//! The config corpus: for each class of broken pipeline file, the exact message (with its JSON
//! path or line:column) that `neuropipe validate` prints. No input may panic.

mod common;
use common::errors;

fn check(text: &str, expected: &[&str]) {
    let got = errors(text);
    assert_eq!(got, expected, "\nfor input:\n{text}\n");
}

const OK_SOURCE: &str = r#"{"id": "src", "type": "TestSource"}"#;
const OK_SINK: &str = r#"{"id": "sink", "type": "TestSink", "params": {"probe": "cfg"}}"#;

#[test]
fn valid_pipeline_has_no_errors() {
    check(
        &format!(r#"{{"stages": [{OK_SOURCE}, {OK_SINK}], "links": ["src.out -> sink.in"]}}"#),
        &[],
    );
}

#[test]
fn threads_must_be_a_whole_number_from_1() {
    let links = r#""links": ["src.out -> sink.in"]"#;
    check(
        &format!(r#"{{"threads": 1, "stages": [{OK_SOURCE}, {OK_SINK}], {links}}}"#),
        &[],
    );
    check(
        &format!(r#"{{"threads": 0, "stages": [{OK_SOURCE}, {OK_SINK}], {links}}}"#),
        &["$.threads: must be an integer in 1..=256, got number 0"],
    );
    check(
        &format!(r#"{{"threads": "two", "stages": [{OK_SOURCE}, {OK_SINK}], {links}}}"#),
        &["$.threads: must be an integer in 1..=256, got string \"two\""],
    );
    let cfg = neuropipe_core::PipelineConfig::parse(&format!(
        r#"{{"threads": 3, "stages": [{OK_SOURCE}, {OK_SINK}], {links}}}"#
    ))
    .unwrap();
    assert_eq!(cfg.threads, Some(3));
    assert_eq!(cfg.to_json()["threads"], 3, "kept when written back");
}

#[test]
fn malformed_json_gives_line_and_column() {
    check(
        "{\n  \"stages\": [\n    {\"id\": \"a\",}\n  ]\n}",
        &["line 3 column 16: invalid JSON: trailing comma"],
    );
    check(
        "",
        &["line 1 column 0: invalid JSON: EOF while parsing a value"],
    );
    check(
        "[1, 2]",
        &["$: a pipeline must be a JSON object with \"stages\" and \"links\", got an array"],
    );
}

#[test]
fn unknown_stage_type_suggests_the_nearest() {
    check(
        &format!(r#"{{"stages": [{{"id": "src", "type": "TestSorce"}}, {OK_SINK}], "links": ["src.out -> sink.in"]}}"#),
        &["$.stages[0].type: unknown stage type `TestSorce` (did you mean \"TestSource\"?) (run `neuropipe stages` for the list: Capture, TestAdd, TestSink, TestSource)"],
    );
}

#[test]
fn parameter_problems_name_stage_and_parameter() {
    check(
        r#"{"stages": [
            {"id": "src", "type": "TestSource", "params": {"packet": 3, "frames": "four", "channels": 9999}},
            {"id": "sink", "type": "TestSink"}
        ], "links": ["src.out -> sink.in"]}"#,
        &[
            "$.stages[0].params.packet: stage type `TestSource` has no parameter `packet` (did you mean \"packets\"?) (parameters: packets, frames, channels, fail_at, interval_ms, pool)",
            "$.stages[0].params.frames: `frames` must be an integer in 1..=4096, got string \"four\"",
            "$.stages[0].params.channels: `channels` = 9999 is out of range 1..=256",
            "$.stages[1].params: missing required parameter `probe` (string) of stage type `TestSink`",
        ],
    );
}

#[test]
fn unknown_ports_and_stages_in_links() {
    check(
        &format!(
            r#"{{"stages": [{OK_SOURCE}, {OK_SINK}], "links": ["src.output -> sink.in", "src.out -> snk.in", "sink.in -> src.out"]}}"#
        ),
        &[
            "$.links[0].from: stage `src` has no output port `output` (did you mean \"out\"?) (output ports of `src`: out)",
            "$.links[1].to: unknown stage `snk` (did you mean \"sink\"?) (stages: src, sink)",
            "$.links[2].from: stage `sink` has no output port `in`; `in` is an input port, and links go from an output to an input (stage `sink` (TestSink) has no output ports)",
            "$.links[2].to: stage `src` has no input port `out`; `out` is an output port, and links go from an output to an input (stage `src` (TestSource) has no input ports)",
        ],
    );
}

#[test]
fn unconnected_required_ports() {
    check(
        &format!(r#"{{"stages": [{OK_SOURCE}, {OK_SINK}]}}"#),
        &[
            "$.stages[0]: output `src.out` (TestSource) is not linked: add a link like \"src.out -> <stage>.<port>\"",
            "$.stages[1]: input `sink.in` (TestSink) is not linked: add a link like \"<stage>.<port> -> sink.in\"",
        ],
    );
}

#[test]
fn cycles_are_named() {
    check(
        &format!(
            r#"{{"stages": [{OK_SOURCE}, {{"id": "a", "type": "TestAdd"}}, {{"id": "b", "type": "TestAdd"}}, {OK_SINK}],
               "links": ["a.out -> b.in", "b.out -> a.in", "src.out -> sink.in"]}}"#
        ),
        &["$.links: cycle: a -> b -> a; a pipeline must be a directed acyclic graph"],
    );
}

#[test]
fn duplicate_ids_and_doubly_linked_inputs() {
    check(
        &format!(
            r#"{{"stages": [{OK_SOURCE}, {OK_SOURCE}, {OK_SINK}], "links": ["src.out -> sink.in"]}}"#
        ),
        &["$.stages[1].id: duplicate stage id `src` (first at $.stages[0])"],
    );
    check(
        &format!(
            r#"{{"stages": [{OK_SOURCE}, {{"id": "s2", "type": "TestSource"}}, {OK_SINK}], "links": ["src.out -> sink.in", "s2.out -> sink.in"]}}"#
        ),
        &["$.links[1].to: input `sink.in` is already linked from `src.out` by $.links[0]; `s2.out` cannot also feed it: an input takes one link (an output can feed many). To combine the two streams insert a `Merge` (a `Resample` first if their rates differ) and link each to its own input: \"src.out -> merge.in1\", \"s2.out -> merge.in2\"."],
    );
}

#[test]
fn pool_problems() {
    check(
        &format!(
            r#"{{"pools": [{{"name": "p", "payload": "f16", "frames": 0, "channels": 2, "count": 4}}],
               "stages": [{OK_SOURCE}, {OK_SINK}], "links": ["src.out -> sink.in"]}}"#
        ),
        &[
            "$.pools[0].payload: unknown payload \"f16\" (valid: \"i32\", \"f32\", \"f64\")",
            "$.pools[0].frames: must be an integer in 1..=1048576, got number 0",
        ],
    );
    // Too small for the packets the stage sends, wrong payload, missing.
    check(
        r#"{"pools": [{"name": "small", "payload": "f32", "frames": 2, "channels": 2, "count": 4},
                           {"name": "ints", "payload": "i32", "frames": 64, "channels": 2, "count": 4}],
               "stages": [{"id": "a", "type": "TestSource", "params": {"frames": 4, "pool": "small"}},
                          {"id": "b", "type": "TestSource", "params": {"pool": "ints"}},
                          {"id": "c", "type": "TestSource", "params": {"pool": "smal"}},
                          {"id": "s1", "type": "TestSink", "params": {"probe": "x"}},
                          {"id": "s2", "type": "TestSink", "params": {"probe": "x"}},
                          {"id": "s3", "type": "TestSink", "params": {"probe": "x"}}],
               "links": ["a -> s1", "b -> s2", "c -> s3"]}"#,
        &[
            "$.stages[0].params.pool: stage `a` (TestSource): pool `small` is too small: its packets hold 2 frames x 2 channels but stage `a` sends packets of 4 frames x 2 channels",
            "$.stages[1].params.pool: stage `b` (TestSource): pool `ints` holds i32 packets but stage `b` needs f32",
            "$.stages[2].params.pool: stage `c` (TestSource): no pool named `smal` (did you mean \"small\"?) (declared pools: small, ints)",
        ],
    );
}

#[test]
fn stream_info_mismatch_is_a_channel_count_error() {
    check(
        &format!(
            r#"{{"stages": [{{"id": "src", "type": "TestSource", "params": {{"channels": 3}}, "stream": {{"labels": ["Fp1", "Fp2"]}}}},
                           {{"id": "a", "type": "TestAdd", "stream": {{"name": "x"}}}}, {OK_SINK}],
               "links": ["src -> a", "a -> sink"]}}"#
        ),
        &[
            "$.stages[1].stream: stage type `TestAdd` does not take a \"stream\" object (only sources do)",
        ],
    );
    check(
        &format!(
            r#"{{"stages": [{{"id": "src", "type": "TestSource", "params": {{"channels": 3}}, "stream": {{"labels": ["Fp1", "Fp2"]}}}}, {OK_SINK}],
               "links": ["src -> sink"]}}"#
        ),
        &["$.stages[0].stream.labels: stage `src` (TestSource): has 2 labels but the stage has 3 channels"],
    );
}

#[test]
fn structural_problems_are_all_reported_at_once() {
    check(
        r#"{"stage": [], "links": {}, "pools": [3]}"#,
        &[
            "$.stage: unknown key `stage` (did you mean \"stages\"?) (valid keys: $schema, name, description, threads, pools, stages, links)",
            "$.pools[0]: a pool must be an object with name, payload, frames, channels, count; got number 3",
            "$.stages: missing: a pipeline needs a \"stages\" array",
            "$.links: must be an array, got an object",
        ],
    );
    check(
        r#"{"stages": [{"id": "a.b", "type": 3}], "links": ["a", {"from": "x.y", "to": "z", "policy": "leaky", "capacity": 0}]}"#,
        &[
            "$.stages[0].id: stage id \"a.b\" may only contain letters, digits, '_' and '-'",
            "$.stages[0].type: stage type must be a string, got number 3",
            "$.links[0]: \"a\" is not a link: write \"stage.port -> stage.port\"",
            "$.links[1].capacity: must be an integer in 1..=65536, got number 0",
            "$.links[1].policy: unknown policy \"leaky\" (valid: \"block\", \"drop-newest\", \"drop-oldest\")",
        ],
    );
}

#[test]
fn payload_mismatch_between_ports() {
    // TestSource sends f32; an i32-only port would reject it. Build a registry variant inline.
    use neuropipe_core::*;
    let mut reg = common::registry();
    reg.register(
        StageSpec::new("IntSink", "takes i32", |_| Err(BuildError::stage("unused")))
            .input(PortSpec::of("in", PayloadKind::I32)),
    );
    let cfg = PipelineConfig::parse(
        r#"{"stages": [{"id": "src", "type": "TestSource"}, {"id": "k", "type": "IntSink"}], "links": ["src -> k"]}"#,
    )
    .unwrap();
    let e = Pipeline::build(&cfg, &reg).err().unwrap();
    assert_eq!(
        e.to_string(),
        "1 problem in pipeline:\n  $.links[0]: payload mismatch: `src.out` sends f32 packets but `k.in` takes i32\n"
    );
}

/// No input makes validation panic: random mutations of a valid file.
#[test]
fn mutated_files_never_panic() {
    let base = format!(
        r#"{{"pools": [{{"name": "p", "payload": "f32", "frames": 4, "channels": 2, "count": 4}}], "stages": [{{"id": "src", "type": "TestSource", "params": {{"pool": "p", "frames": 4}}}}, {{"id": "a", "type": "TestAdd"}}, {OK_SINK}], "links": ["src -> a", {{"from": "a.out", "to": "sink.in", "capacity": 2, "policy": "drop-oldest"}}]}}"#
    );
    let bytes = base.as_bytes();
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"{}[]\",:0123456789-.abcxyz ";
    for _ in 0..3000 {
        let mut m = bytes.to_vec();
        for _ in 0..(1 + next() % 4) {
            let i = (next() as usize) % m.len();
            match next() % 3 {
                0 => m[i] = alphabet[(next() as usize) % alphabet.len()],
                1 => {
                    m.remove(i);
                }
                _ => m.insert(i, alphabet[(next() as usize) % alphabet.len()]),
            }
        }
        let text = String::from_utf8_lossy(&m);
        let _ = errors(&text); // must not panic
    }
}

#[test]
fn pools_too_few_or_too_big() {
    // count 1: a fan-out copy would wait forever for a second buffer.
    check(
        r#"{"pools": [{"name": "p", "payload": "f32", "frames": 4, "channels": 2, "count": 1}],
            "stages": [{"id": "src", "type": "TestSource", "params": {"pool": "p"}},
                       {"id": "sink", "type": "TestSink", "params": {"probe": "x"}}],
            "links": ["src -> sink"]}"#,
        &["$.stages[0].params.pool: stage `src` (TestSource): pool `p` has 1 packets, but this pipeline can hold up to 14 at once (every queue full plus two per stage): with fewer it can deadlock; use \"count\": 14 or more, or lower link capacities"],
    );
    check(
        r#"{"pools": [{"name": "p", "payload": "f64", "frames": 1048576, "channels": 4096, "count": 65536}],
            "stages": [{"id": "src", "type": "TestSource"}, {"id": "sink", "type": "TestSink", "params": {"probe": "x"}}],
            "links": ["src -> sink"]}"#,
        &["$.pools[0]: pool of 65536 packets x 1048576 frames x 4096 channels of f64 needs 2147483648 MiB, more than the 2048 MiB limit of one pool"],
    );
    check(
        r#"{"stages": [{"id": "src", "type": "TestSource", "params": {"frames": 4096, "channels": 256}},
                      {"id": "sink", "type": "TestSink", "params": {"probe": "x"}}],
            "links": [{"from": "src", "to": "sink", "capacity": 65536}]}"#,
        &["$.stages[0]: stage `src` (TestSource): its private pool of 65542 packets x 4096 frames x 256 channels would need 262168 MiB (limit 2048 MiB): lower the packet size or the link capacities"],
    );
}
