//! The flows a process runs: the current version of each, and every older version a conversation started on.
//! A conversation stays on its version: versions are kept in the store, so any process can rebuild them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::flow::check::Problem;
use crate::flow::load::{self, Flow};
use crate::store::StoreError;
use crate::store::conversation::ConversationStore;

pub struct FlowRegistry {
    dir: PathBuf,
    current: RwLock<BTreeMap<String, Arc<Flow>>>,
    versions: RwLock<HashMap<(String, String), Arc<Flow>>>,
    /// The flow a new conversation starts on.
    default_flow: String,
    /// Per business number, the flow new conversations on it start on (`WHATSAPP_NUMBERS`).
    numbers: BTreeMap<String, String>,
}

impl FlowRegistry {
    /// Loads every flow of `dir` (the built-in flow when it holds none); fails with every problem found.
    pub fn load(dir: &Path, default_flow: &str) -> Result<Self, Vec<Problem>> {
        let flows = load::load_all_or_builtin(dir)?;
        if !flows.contains_key(default_flow) {
            let known = flows.keys().cloned().collect::<Vec<_>>().join(", ");
            return Err(vec![Problem::error(
                dir,
                0,
                format!("DEFAULT_FLOW `{default_flow}` is not among the flows ({known})"),
                "set DEFAULT_FLOW to one of them",
            )]);
        }
        let registry = Self {
            dir: dir.to_owned(),
            current: RwLock::new(BTreeMap::new()),
            versions: RwLock::new(HashMap::new()),
            default_flow: default_flow.to_owned(),
            numbers: BTreeMap::new(),
        };
        registry.install(flows);
        Ok(registry)
    }

    pub fn from_flows(flows: BTreeMap<String, Arc<Flow>>, default_flow: &str) -> Self {
        let registry = Self {
            dir: PathBuf::new(),
            current: RwLock::new(BTreeMap::new()),
            versions: RwLock::new(HashMap::new()),
            default_flow: default_flow.to_owned(),
            numbers: BTreeMap::new(),
        };
        registry.install(flows);
        registry
    }

    fn install(&self, flows: BTreeMap<String, Arc<Flow>>) {
        let mut versions = self.versions.write().unwrap_or_else(|p| p.into_inner());
        for flow in flows.values() {
            versions.insert((flow.id().to_owned(), flow.version.clone()), flow.clone());
        }
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = flows;
    }

    /// Reloads the flows from disk; on any problem the running flows stay as they were.
    pub fn reload(&self) -> Result<Vec<String>, Vec<Problem>> {
        let flows = load::load_all_or_builtin(&self.dir)?;
        if !flows.contains_key(&self.default_flow) {
            return Err(vec![Problem::error(
                &self.dir,
                0,
                format!("flow `{}` disappeared", self.default_flow),
                "keep the default flow",
            )]);
        }
        let loaded = flows.values().map(|f| format!("{}@{}", f.id(), f.version)).collect();
        self.install(flows);
        Ok(loaded)
    }

    /// Starts new conversations on each listed number on its own flow; fails naming every flow that is not
    /// among the loaded ones.
    pub fn with_numbers(mut self, numbers: &crate::config::BusinessNumbers) -> Result<Self, Vec<Problem>> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect::<Vec<_>>();
        let mut problems = Vec::new();
        for (id, number) in numbers.iter() {
            if !current.contains(&number.flow) {
                problems.push(Problem::error(
                    &self.dir,
                    0,
                    format!(
                        "WHATSAPP_NUMBERS: number {id} starts on flow `{}`, which is not among the flows ({})",
                        number.flow,
                        current.join(", ")
                    ),
                    "name a flow of FLOWS_DIR",
                ));
            }
            self.numbers.insert(id.clone(), number.flow.clone());
        }
        if problems.is_empty() { Ok(self) } else { Err(problems) }
    }

    /// The flow new conversations on the business number `phone_number_id` start on: its own, else the default.
    pub fn default_for(&self, phone_number_id: &str) -> Option<Arc<Flow>> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        let own = self.numbers.get(phone_number_id).and_then(|flow| current.get(flow));
        own.or_else(|| current.get(&self.default_flow)).cloned()
    }

    /// The flow new conversations start on.
    pub fn default_flow(&self) -> Option<Arc<Flow>> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).get(&self.default_flow).cloned()
    }

    pub fn current(&self) -> Vec<Arc<Flow>> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    /// A specific version: from memory, else rebuilt from the source kept in the store.
    pub async fn version(
        &self,
        flow_id: &str,
        version: &str,
        store: &dyn ConversationStore,
    ) -> Result<Option<Arc<Flow>>, StoreError> {
        let key = (flow_id.to_owned(), version.to_owned());
        if let Some(flow) = self.versions.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(Some(flow.clone()));
        }
        let Some(source) = store.flow_source(flow_id, version).await? else { return Ok(None) };
        let Ok(flow) = Flow::parse(&source, Path::new(&format!("{flow_id}@{version}"))) else { return Ok(None) };
        let flow = Arc::new(flow);
        self.versions.write().unwrap_or_else(|p| p.into_inner()).insert(key, flow.clone());
        Ok(Some(flow))
    }

    /// Keeps the source of every current flow in the store (at start and after a reload).
    pub async fn publish(&self, store: &dyn ConversationStore) -> Result<(), StoreError> {
        for flow in self.current() {
            store.keep_flow_source(flow.id(), &flow.version, &flow.source).await?;
        }
        Ok(())
    }
}
