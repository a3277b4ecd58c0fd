//! Cases in this process's memory (`serve --dev`, tests).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::clock::SharedClock;
use crate::store::StoreError;
use crate::store::case::{
    Case, CaseChangeError, CaseEntry, CaseError, CaseInfo, CaseStatus, CaseStore, Opened, TIMELINE_MAX,
};
use crate::store::retention::Retention;

pub struct MemoryCases {
    clock: SharedClock,
    retention: Retention,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    cases: HashMap<String, Case>,
    /// The open case of each conversation.
    open_of: HashMap<String, String>,
    timelines: HashMap<String, Vec<CaseEntry>>,
    /// When each closed case goes (Unix s on the backend's clock), set when it closed: Redis's `EXPIRE`.
    expires_at: HashMap<String, u64>,
}

impl MemoryCases {
    pub fn new(clock: SharedClock, retention: Retention) -> Self {
        Self { clock, retention, inner: Mutex::default() }
    }

    /// The cases, those closed longer ago than the retention forgotten with their timelines.
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every change below is made whole under the lock, so a poisoned lock still holds consistent data.
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now_secs();
        let expired: Vec<String> =
            inner.expires_at.iter().filter(|(_, at)| **at <= now).map(|(id, _)| id.clone()).collect();
        for id in expired {
            inner.remove(&id);
        }
        inner
    }

    /// Everything held, as text, for tests that look for personal data in every byte kept.
    pub fn dump(&self) -> String {
        format!("{:?}", *self.lock())
    }

    /// How many cases and timelines are held.
    pub fn entries(&self) -> usize {
        let inner = self.lock();
        inner.cases.len() + inner.timelines.len()
    }

    fn change(
        &self,
        id: &str,
        apply: impl FnOnce(&mut Case) -> Result<(), CaseChangeError>,
    ) -> Result<Case, CaseError> {
        let mut inner = self.lock();
        let case = inner.cases.get_mut(id).ok_or_else(|| CaseChangeError::NotFound(id.to_owned()))?;
        let mut changed = case.clone();
        apply(&mut changed)?;
        *case = changed.clone();
        if !changed.status.is_open() {
            inner.open_of.remove(&changed.info.conversation_id);
        }
        Ok(changed)
    }
}

impl Inner {
    fn remove(&mut self, id: &str) {
        if let Some(case) = self.cases.remove(id)
            && self.open_of.get(&case.info.conversation_id).map(String::as_str) == Some(id)
        {
            self.open_of.remove(&case.info.conversation_id);
        }
        self.timelines.remove(id);
        self.expires_at.remove(id);
    }
}

#[async_trait]
impl CaseStore for MemoryCases {
    async fn open(&self, info: CaseInfo) -> Result<Opened, StoreError> {
        let mut inner = self.lock();
        if let Some(id) = inner.open_of.get(&info.conversation_id)
            && let Some(case) = inner.cases.get(id)
        {
            return Ok(Opened::Existing(case.clone()));
        }
        if let Some(case) = inner.cases.get(&info.id) {
            return Ok(Opened::Existing(case.clone()));
        }
        let case = Case::waiting(info);
        inner.open_of.insert(case.info.conversation_id.clone(), case.info.id.clone());
        inner.cases.insert(case.info.id.clone(), case.clone());
        Ok(Opened::New(case))
    }

    async fn get(&self, id: &str) -> Result<Option<Case>, StoreError> {
        Ok(self.lock().cases.get(id).cloned())
    }

    async fn open_case_of(&self, conversation_id: &str) -> Result<Option<Case>, StoreError> {
        let inner = self.lock();
        Ok(inner.open_of.get(conversation_id).and_then(|id| inner.cases.get(id)).cloned())
    }

    async fn list(&self, status: CaseStatus, limit: usize) -> Result<Vec<Case>, StoreError> {
        let inner = self.lock();
        let mut cases: Vec<Case> = inner.cases.values().filter(|c| c.status == status).cloned().collect();
        cases.sort_by(|a, b| (a.info.opened_at, &a.info.id).cmp(&(b.info.opened_at, &b.info.id)));
        cases.truncate(limit);
        Ok(cases)
    }

    async fn counts(&self) -> Result<BTreeMap<CaseStatus, usize>, StoreError> {
        let mut counts: BTreeMap<CaseStatus, usize> = CaseStatus::ALL.into_iter().map(|s| (s, 0)).collect();
        for case in self.lock().cases.values() {
            *counts.entry(case.status).or_default() += 1;
        }
        Ok(counts)
    }

    async fn claim(&self, id: &str, agent: &str, now: u64) -> Result<Case, CaseError> {
        self.change(id, |case| match case.status {
            CaseStatus::Waiting => {
                case.status = CaseStatus::Assigned;
                case.assigned_to = Some(agent.to_owned());
                case.assigned_at = Some(now);
                Ok(())
            }
            CaseStatus::Assigned => Err(CaseChangeError::TakenBy(case.assigned_to.clone().unwrap_or_default())),
            closed => Err(CaseChangeError::Closed(closed)),
        })
    }

    async fn reassign(&self, id: &str, agent: &str, now: u64) -> Result<Case, CaseError> {
        self.change(id, |case| {
            if !case.status.is_open() {
                return Err(CaseChangeError::Closed(case.status));
            }
            case.status = CaseStatus::Assigned;
            case.assigned_to = Some(agent.to_owned());
            case.assigned_at = Some(now);
            Ok(())
        })
    }

    async fn close(&self, id: &str, status: CaseStatus, outcome: &str, now: u64) -> Result<Case, CaseError> {
        let closed = self.change(id, |case| {
            if !case.status.is_open() {
                return Err(CaseChangeError::Closed(case.status));
            }
            case.status = status;
            case.closed_at = Some(now);
            case.outcome = Some(outcome.to_owned());
            Ok(())
        })?;
        let expires_at = self.clock.now_secs() + self.retention.cases.as_secs();
        self.lock().expires_at.insert(id.to_owned(), expires_at);
        Ok(closed)
    }

    async fn record(&self, id: &str, entry: &CaseEntry) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let timeline = inner.timelines.entry(id.to_owned()).or_default();
        if timeline.iter().any(|e| e.key == entry.key) {
            return Ok(false);
        }
        timeline.push(entry.clone());
        if timeline.len() > TIMELINE_MAX {
            timeline.remove(0);
        }
        Ok(true)
    }

    async fn cases_of(&self, conversation_id: &str) -> Result<Vec<Case>, StoreError> {
        let mut cases: Vec<Case> =
            self.lock().cases.values().filter(|c| c.info.conversation_id == conversation_id).cloned().collect();
        cases.sort_by_key(|c| c.info.opened_at);
        Ok(cases)
    }

    async fn erase_conversation(&self, conversation_id: &str) -> Result<usize, StoreError> {
        let mut inner = self.lock();
        let ids: Vec<String> = inner
            .cases
            .values()
            .filter(|c| c.info.conversation_id == conversation_id)
            .map(|c| c.info.id.clone())
            .collect();
        for id in &ids {
            inner.remove(id);
        }
        Ok(ids.len())
    }

    async fn timeline(&self, id: &str) -> Result<Vec<CaseEntry>, StoreError> {
        Ok(self.lock().timelines.get(id).cloned().unwrap_or_default())
    }
}
