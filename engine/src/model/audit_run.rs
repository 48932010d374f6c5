//! How a run of audit records is stored. A caller's records that follow one another
//! share one copy of who the caller is (agent, connection, integration, host), and
//! each adds only its time, method and answer status: ~28 bytes of JSON where a whole
//! record takes ~180. A busy proxy writes a record per call, so this is most of what its audit
//! trail costs the store. Values written before groups (an array of whole records,
//! or one record) still read.

use serde::{Deserialize, Serialize};

use super::RecordError;
use super::audit::AuditRecord;
use crate::util::clock::Timestamp;

const WHAT: &str = "audit record";
/// What closes a run: the last group's uses, the group, the groups, the run.
const CLOSING: &[u8] = b"]}]}";

/// Who used a token: what a caller's consecutive records share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsedBy<S> {
    agent_id: S,
    connection_id: S,
    integration: S,
    host: S,
}

impl<'a> UsedBy<&'a str> {
    fn of(record: &AuditRecord<&'a str>) -> Self {
        UsedBy {
            agent_id: record.agent_id,
            connection_id: record.connection_id,
            integration: record.integration,
            host: record.host,
        }
    }
}

/// A caller's consecutive uses, oldest first: when, and with which method.
#[derive(Deserialize)]
struct Group {
    by: UsedBy<String>,
    uses: Vec<Use>,
}

/// One use: `[at, "GET", retries, status]` (status `0`: no answer). Runs written
/// before statuses hold `[at, "GET"]`, or `[at, "GET", retries]` for a call sent again.
#[derive(Deserialize)]
#[serde(untagged)]
enum Use {
    Answered(Timestamp, String, u32, u16),
    Retried(Timestamp, String, u32),
    Once(Timestamp, String),
}

/// A stored value.
#[derive(Deserialize)]
#[serde(untagged)]
enum Stored {
    Groups {
        groups: Vec<Group>,
    },
    /// Written before groups.
    Records(Vec<AuditRecord>),
    /// Written before runs.
    Record(AuditRecord),
}

/// A stored run's records, oldest first.
pub(super) fn decode(value: &[u8]) -> Result<Vec<AuditRecord>, RecordError> {
    Ok(match super::decode(value, WHAT)? {
        Stored::Groups { groups } => groups
            .into_iter()
            .flat_map(|Group { by, uses }| {
                uses.into_iter().map(move |used| {
                    let (at, method, retries, status) = match used {
                        Use::Answered(at, method, retries, status) => (at, method, retries, Some(status)),
                        Use::Retried(at, method, retries) => (at, method, retries, None),
                        Use::Once(at, method) => (at, method, 0, None),
                    };
                    AuditRecord {
                        at,
                        agent_id: by.agent_id.clone(),
                        connection_id: by.connection_id.clone(),
                        integration: by.integration.clone(),
                        method,
                        retries,
                        host: by.host.clone(),
                        status,
                    }
                })
            })
            .collect(),
        Stored::Records(records) => records,
        Stored::Record(record) => vec![record],
    })
}

/// A run's JSON as it is written: `{"groups":[{"by":{…},"uses":[[at,"GET",0,200],[at,"GET",1,200],…]},…]}`.
pub(super) struct RunWriter<'a> {
    json: Vec<u8>,
    first_at: Timestamp,
    /// Whose uses the open group holds.
    group: Option<UsedBy<&'a str>>,
}

impl<'a> RunWriter<'a> {
    pub fn new() -> Self {
        RunWriter { json: Vec::new(), first_at: Timestamp(0), group: None }
    }

    pub fn is_empty(&self) -> bool {
        self.json.is_empty()
    }

    /// Adds `record`, unless the run already holds one and would then pass `limit`
    /// bytes: then nothing is added and the answer is false.
    pub fn push(&mut self, record: &AuditRecord<&'a str>, limit: usize) -> Result<bool, RecordError> {
        let (before, group_before) = (self.json.len(), self.group);
        if self.json.is_empty() {
            self.json.extend_from_slice(b"{\"groups\":[");
            self.first_at = record.at;
        }
        let by = UsedBy::of(record);
        if self.group == Some(by) {
            self.json.push(b',');
        } else {
            if self.group.is_some() {
                self.json.extend_from_slice(b"]},");
            }
            self.json.extend_from_slice(b"{\"by\":");
            write(&mut self.json, &by)?;
            self.json.extend_from_slice(b",\"uses\":[");
            self.group = Some(by);
        }
        match (record.retries, record.status) {
            (retries, Some(status)) => write(&mut self.json, &(record.at, record.method, retries, status))?,
            (0, None) => write(&mut self.json, &(record.at, record.method))?,
            (retries, None) => write(&mut self.json, &(record.at, record.method, retries))?,
        }
        if before > 0 && self.json.len() + CLOSING.len() > limit {
            self.json.truncate(before);
            self.group = group_before;
            return Ok(false);
        }
        Ok(true)
    }

    /// The run's first record's time and its finished JSON; the writer is empty again.
    pub fn take(&mut self) -> (Timestamp, Vec<u8>) {
        self.json.extend_from_slice(CLOSING);
        self.group = None;
        (self.first_at, std::mem::take(&mut self.json))
    }
}

fn write(json: &mut Vec<u8>, value: &impl Serialize) -> Result<(), RecordError> {
    serde_json::to_writer(json, value).map_err(|e| RecordError::Corrupt { what: WHAT, detail: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(at: i64, agent: &'a str, method: &'a str) -> AuditRecord<&'a str> {
        AuditRecord {
            at: Timestamp(at),
            agent_id: agent,
            connection_id: "con_1",
            integration: "github",
            method,
            retries: 0,
            host: "api.github.com",
            status: Some(200),
        }
    }

    fn owned(record: &AuditRecord<&str>) -> AuditRecord {
        AuditRecord {
            at: record.at,
            agent_id: record.agent_id.into(),
            connection_id: record.connection_id.into(),
            integration: record.integration.into(),
            method: record.method.into(),
            retries: record.retries,
            host: record.host.into(),
            status: record.status,
        }
    }

    /// Callers taking turns keep their order; each turn is a group of its own.
    #[test]
    fn a_run_reads_back_as_written_in_order() {
        let records = [
            record(1, "cli", "GET"),
            AuditRecord { retries: 2, ..record(2, "cli", "GET") },
            AuditRecord { status: Some(0), ..record(2, "cli", "GET") },
            // As written before statuses were recorded.
            AuditRecord { status: None, ..record(2, "cli", "GET") },
            AuditRecord { status: None, retries: 1, ..record(2, "cli", "GET") },
            record(2, "cli", "POST"),
            record(2, "bot \"quoted\"", "GET"),
            record(3, "cli", "DELETE"),
        ];
        let mut run = RunWriter::new();
        for record in &records {
            assert!(run.push(record, 64 << 10).unwrap());
        }
        let (first_at, json) = run.take();
        assert_eq!(first_at, Timestamp(1));
        assert!(run.is_empty());
        let groups =
            serde_json::from_slice::<serde_json::Value>(&json).unwrap()["groups"].as_array().unwrap().len();
        assert_eq!(groups, 3);
        assert_eq!(decode(&json).unwrap(), records.iter().map(owned).collect::<Vec<_>>());
    }

    /// A caller's uses cost their time, method and status each, not a copy of the caller.
    #[test]
    fn a_callers_uses_share_one_copy_of_the_caller() {
        let mut run = RunWriter::new();
        for n in 0..1000 {
            assert!(run.push(&record(1_764_316_800_000 + n, "cli", "GET"), 64 << 10).unwrap());
        }
        let (_, json) = run.take();
        assert!(json.len() < 29 * 1000, "{} bytes for 1000 uses", json.len());
        let read = decode(&json).unwrap();
        assert_eq!(read.len(), 1000);
        assert_eq!(read[999], owned(&record(1_764_316_800_999, "cli", "GET")));
    }

    /// Past the limit a record is refused and the run is left as it was.
    #[test]
    fn a_run_refuses_what_would_pass_its_limit_but_never_its_first_record() {
        let mut run = RunWriter::new();
        assert!(run.push(&record(1, "cli", "GET"), 10).unwrap(), "a first record always fits");
        assert!(!run.push(&record(2, "other", "GET"), 10).unwrap());
        assert!(!run.push(&record(2, "cli", "GET"), 10).unwrap());
        let (_, json) = run.take();
        assert_eq!(decode(&json).unwrap(), [owned(&record(1, "cli", "GET"))]);
    }

    #[test]
    fn values_written_before_groups_still_read() {
        let old = [owned(&record(1, "cli", "GET")), owned(&record(2, "bot", "PUT"))];
        assert_eq!(decode(&serde_json::to_vec(&old).unwrap()).unwrap(), old);
        assert_eq!(decode(&serde_json::to_vec(&old[1]).unwrap()).unwrap(), old[1..]);
    }
}
