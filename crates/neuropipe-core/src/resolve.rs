//! Semantic checks of a pipeline against the stage registry: stage types, parameters, link
//! endpoints and payloads, unlinked required ports, cycles. Every problem is collected with its
//! JSON path; nothing is built here.

use crate::config::{Endpoint, LinkConfig, PipelineConfig, StageConfig};
use crate::error::ConfigError;
use crate::queue::LinkPolicy;
use crate::registry::{PortSpec, Registry, StageSpec};
use crate::text::suggestion;
use std::collections::{HashMap, HashSet};

/// A link with its ends resolved to stage and port indices.
#[derive(Clone, Debug)]
pub(crate) struct ResolvedLink {
    pub(crate) from: (usize, usize),
    pub(crate) to: (usize, usize),
    pub(crate) capacity: usize,
    pub(crate) policy: LinkPolicy,
}

/// Semantic checks that need the registry. Returns resolved links and a topological order of
/// the stages, plus every problem found.
pub(crate) fn resolve(
    cfg: &PipelineConfig,
    reg: &Registry,
) -> (Vec<ResolvedLink>, Vec<usize>, Vec<ConfigError>) {
    let mut r = Resolver::new(cfg, reg);
    let mut links = vec![];
    // Stages named by a link that could not be resolved: their ports are not reported as
    // unlinked too (the broken link is the problem).
    let mut in_broken_link: Vec<&str> = vec![];
    let mut input_owner: HashMap<(usize, usize), usize> = HashMap::new();
    for (j, l) in cfg.links.iter().enumerate() {
        match r.link(j, l, &mut input_owner) {
            Some(link) => links.push(link),
            None => {
                in_broken_link.push(l.from.stage.as_str());
                in_broken_link.push(l.to.stage.as_str());
            }
        }
    }
    r.unlinked_required_ports(&links, &in_broken_link);
    let mut errors = r.errors;
    let order = topo_order(cfg, &links, &mut errors);
    (links, order, errors)
}

/// The state of one resolution: the stages' specs (`None` for an unknown type), ids by name,
/// and the problems found so far.
struct Resolver<'a> {
    cfg: &'a PipelineConfig,
    specs: Vec<Option<&'a StageSpec>>,
    index: HashMap<&'a str, usize>,
    errors: Vec<ConfigError>,
}

impl<'a> Resolver<'a> {
    fn new(cfg: &'a PipelineConfig, reg: &'a Registry) -> Self {
        let mut errors = vec![];
        let specs = cfg
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| check_stage(i, s, reg, &mut errors))
            .collect();
        let index = cfg
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        Resolver {
            cfg,
            specs,
            index,
            errors,
        }
    }

    fn ids(&self) -> impl Iterator<Item = &'a str> + Clone {
        self.cfg.stages.iter().map(|s| s.id.as_str())
    }

    /// Link `j` resolved to port indices, or `None` (with the problem recorded).
    fn link(
        &mut self,
        j: usize,
        l: &LinkConfig,
        input_owner: &mut HashMap<(usize, usize), usize>,
    ) -> Option<ResolvedLink> {
        let path = format!("$.links[{j}]");
        let from = self.endpoint(&path, &l.from, "from", true);
        let to = self.endpoint(&path, &l.to, "to", false);
        let (from, to) = (from?, to?);
        let (fs, ts) = (self.specs[from.0]?, self.specs[to.0]?);
        let (fp, tp) = (&fs.outputs[from.1], &ts.inputs[to.1]);
        if !fp.payload.compatible(tp.payload) {
            self.errors.push(ConfigError::new(
                path,
                format!(
                    "payload mismatch: `{}.{}` sends {} packets but `{}.{}` takes {}",
                    l.from.stage,
                    fp.name,
                    fp.payload.text(),
                    l.to.stage,
                    tp.name,
                    tp.payload.text()
                ),
            ));
            return None;
        }
        if let Some(first) = input_owner.insert(to, j) {
            // Name both streams and say how to combine them.
            let this = format!("{}.{}", l.from.stage, fp.name);
            let other = &self.cfg.links[first].from;
            let other = match &other.port {
                Some(p) => format!("{}.{p}", other.stage),
                None => self
                    .index
                    .get(other.stage.as_str())
                    .and_then(|&i| self.specs[i])
                    .and_then(|s| s.outputs.first())
                    .map_or(other.stage.clone(), |p| {
                        format!("{}.{}", other.stage, p.name)
                    }),
            };
            // A stage with further inputs (an XDF recorder's `in2` …) takes the stream there.
            let free = self.specs[to.0].and_then(|spec| {
                spec.inputs
                    .iter()
                    .enumerate()
                    .find(|(pi, p)| !p.required && !input_owner.contains_key(&(to.0, *pi)))
                    .map(|(_, p)| p.name)
            });
            let other_input = match free {
                Some(port) => format!(
                    " Or, as a stream of its own, link it to a free input of `{}`: \"{this} -> {}.{port}\".",
                    l.to.stage, l.to.stage
                ),
                None => String::new(),
            };
            self.errors.push(ConfigError::new(
                format!("{path}.to"),
                format!(
                    "input `{}.{}` is already linked from `{other}` by $.links[{first}]; `{this}` cannot also feed it: an input takes one link (an output can feed many). To combine the two streams insert a `Merge` (a `Resample` first if their rates differ) and link each to its own input: \"{other} -> merge.in1\", \"{this} -> merge.in2\".{other_input}",
                    l.to.stage, tp.name
                ),
            ));
            return None;
        }
        Some(ResolvedLink {
            from,
            to,
            capacity: l.capacity,
            policy: l.policy,
        })
    }

    /// One end of a link as (stage, port) indices, or `None` (with the problem recorded).
    fn endpoint(
        &mut self,
        path: &str,
        e: &Endpoint,
        side: &str,
        outputs: bool,
    ) -> Option<(usize, usize)> {
        let Some(&si) = self.index.get(e.stage.as_str()) else {
            self.errors.push(ConfigError::new(
                format!("{path}.{side}"),
                format!(
                    "unknown stage `{}`{} (stages: {})",
                    e.stage,
                    suggestion(&e.stage, self.ids()),
                    self.ids().collect::<Vec<_>>().join(", ")
                ),
            ));
            return None;
        };
        let spec = self.specs[si]?;
        let (ports, other, dir) = if outputs {
            (&spec.outputs, &spec.inputs, "output")
        } else {
            (&spec.inputs, &spec.outputs, "input")
        };
        let list = port_list(&e.stage, spec, ports, dir);
        let problem = match &e.port {
            None if ports.len() == 1 => return Some((si, 0)),
            // The one port that must be linked, next to optional ones (a recorder's `in`
            // before its further streams, a source's `out` before its `aux`).
            None if ports.iter().filter(|p| p.required).count() == 1 => {
                return ports.iter().position(|p| p.required).map(|pi| (si, pi));
            }
            None => format!("name the port: `{}.<port>` ({list})", e.stage),
            Some(p) => match ports.iter().position(|x| x.name == p) {
                Some(pi) => return Some((si, pi)),
                None => {
                    let hint = if other.iter().any(|x| x.name == p) {
                        format!(
                            "; `{p}` is an {} port, and links go from an output to an input",
                            if outputs { "input" } else { "output" }
                        )
                    } else {
                        suggestion(p, ports.iter().map(|p| p.name))
                    };
                    format!("stage `{}` has no {dir} port `{p}`{hint} ({list})", e.stage)
                }
            },
        };
        self.errors
            .push(ConfigError::new(format!("{path}.{side}"), problem));
        None
    }

    /// Required ports that no link reaches, except on stages named by a broken link.
    fn unlinked_required_ports(&mut self, links: &[ResolvedLink], in_broken_link: &[&str]) {
        let linked_in: HashSet<(usize, usize)> = links.iter().map(|l| l.to).collect();
        let linked_out: HashSet<(usize, usize)> = links.iter().map(|l| l.from).collect();
        for (i, spec) in self.specs.iter().enumerate() {
            let Some(spec) = spec else { continue };
            let id = &self.cfg.stages[i].id;
            if in_broken_link.contains(&id.as_str()) {
                continue;
            }
            for (pi, p) in spec.inputs.iter().enumerate() {
                if p.required && !linked_in.contains(&(i, pi)) {
                    self.errors.push(ConfigError::new(
                        format!("$.stages[{i}]"),
                        format!(
                            "input `{id}.{}` ({}) is not linked: add a link like \"<stage>.<port> -> {id}.{}\"",
                            p.name, spec.type_name, p.name
                        ),
                    ));
                }
            }
            for (pi, p) in spec.outputs.iter().enumerate() {
                if p.required && !linked_out.contains(&(i, pi)) {
                    self.errors.push(ConfigError::new(
                        format!("$.stages[{i}]"),
                        format!(
                            "output `{id}.{}` ({}) is not linked: add a link like \"{id}.{} -> <stage>.<port>\"",
                            p.name, spec.type_name, p.name
                        ),
                    ));
                }
            }
        }
    }
}

/// "input ports of `x`: a, b" (or that it has none), for messages.
fn port_list(stage: &str, spec: &StageSpec, ports: &[PortSpec], dir: &str) -> String {
    if ports.is_empty() {
        format!("stage `{stage}` ({}) has no {dir} ports", spec.type_name)
    } else {
        format!(
            "{dir} ports of `{stage}`: {}",
            ports.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
        )
    }
}

fn check_stage<'r>(
    i: usize,
    s: &StageConfig,
    reg: &'r Registry,
    errors: &mut Vec<ConfigError>,
) -> Option<&'r StageSpec> {
    let path = format!("$.stages[{i}]");
    let Some(spec) = reg.get(&s.kind) else {
        errors.push(ConfigError::new(
            format!("{path}.type"),
            format!(
                "unknown stage type `{}`{} (run `neuropipe stages` for the list: {})",
                s.kind,
                suggestion(&s.kind, reg.names()),
                reg.names().collect::<Vec<_>>().join(", ")
            ),
        ));
        return None;
    };
    let names = || spec.params.iter().map(|p| p.name);
    for (k, v) in &s.params {
        match spec.param_spec(k) {
            None => errors.push(ConfigError::new(
                format!("{path}.params.{k}"),
                format!(
                    "stage type `{}` has no parameter `{k}`{} (parameters: {})",
                    spec.type_name,
                    suggestion(k, names()),
                    if spec.params.is_empty() {
                        "none".to_string()
                    } else {
                        names().collect::<Vec<_>>().join(", ")
                    }
                ),
            )),
            Some(p) => {
                if let Err(m) = p.check(v) {
                    errors.push(ConfigError::new(format!("{path}.params.{k}"), m));
                }
            }
        }
    }
    for p in &spec.params {
        if p.required() && !s.params.contains_key(p.name) {
            errors.push(ConfigError::new(
                format!("{path}.params"),
                format!(
                    "missing required parameter `{}` ({}) of stage type `{}`",
                    p.name,
                    p.type_text(),
                    spec.type_name
                ),
            ));
        }
    }
    if s.stream.is_some() && !spec.stream_info {
        errors.push(ConfigError::new(
            format!("{path}.stream"),
            format!(
                "stage type `{}` does not take a \"stream\" object (only sources do)",
                spec.type_name
            ),
        ));
    }
    Some(spec)
}

fn topo_order(
    cfg: &PipelineConfig,
    links: &[ResolvedLink],
    errors: &mut Vec<ConfigError>,
) -> Vec<usize> {
    let n = cfg.stages.len();
    let mut indeg = vec![0usize; n];
    let mut out: Vec<Vec<usize>> = vec![vec![]; n];
    for l in links {
        indeg[l.to.0] += 1;
        out[l.from.0].push(l.to.0);
    }
    let mut ready: Vec<usize> = (0..n).rev().filter(|&i| indeg[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop() {
        order.push(i);
        for &to in &out[i] {
            indeg[to] -= 1;
            if indeg[to] == 0 {
                ready.push(to);
            }
        }
    }
    if order.len() < n {
        // Walk back from a stage left in the cycle to name it.
        let left: Vec<usize> = (0..n).filter(|i| indeg[*i] > 0).collect();
        let mut cycle = vec![left[0]];
        loop {
            let cur = *cycle.last().expect("non-empty");
            let Some(prev) = links
                .iter()
                .find(|l| l.to.0 == cur && indeg[l.from.0] > 0)
                .map(|l| l.from.0)
            else {
                break;
            };
            if let Some(pos) = cycle.iter().position(|&x| x == prev) {
                cycle.drain(..pos);
                cycle.push(prev);
                break;
            }
            cycle.push(prev);
        }
        cycle.reverse();
        let names: Vec<&str> = cycle.iter().map(|&i| cfg.stages[i].id.as_str()).collect();
        errors.push(ConfigError::new(
            "$.links",
            format!(
                "cycle: {}; a pipeline must be a directed acyclic graph",
                names.join(" -> ")
            ),
        ));
    }
    order
}
