//! [`Zone`]: the records of one zone, read from an RFC 1035 master file,
//! and the answers an authoritative server gives from them (Twisted's
//! `names.authority.BindAuthority`).
//!
//! The file is parsed by hickory-proto's zone parser: `$ORIGIN`, `$TTL`,
//! `$INCLUDE` (from [`Zone::load`] only), `@`, relative and absolute
//! names, an owner left blank to repeat the last one, parentheses across
//! lines, `;` comments, quoted strings, and every record type hickory
//! knows (SOA, NS, A, AAAA, CNAME, MX, TXT, PTR, SRV, CAA, ...). On top
//! of the parser the zone checks that it is one: exactly one SOA, at the
//! origin, and every record at or below the origin.
//!
//! ```
//! use torsion_dns::Zone;
//! use torsion_dns::proto::op::ResponseCode;
//! use torsion_dns::proto::rr::{Name, RecordType};
//!
//! let zone = Zone::parse(
//!     "$ORIGIN example.test.\n\
//!      $TTL 300\n\
//!      @    SOA ns1 hostmaster 1 7200 900 1209600 60\n\
//!      @    NS  ns1\n\
//!      ns1  A   192.0.2.1\n\
//!      www  CNAME ns1",
//!     None,
//! )?;
//! let answer = zone.lookup(&Name::from_ascii("www.example.test.")?, RecordType::A);
//! assert_eq!(answer.code, ResponseCode::NoError);
//! assert_eq!(answer.answers.len(), 2); // the CNAME, then ns1's address
//! let missing = zone.lookup(&Name::from_ascii("nope.example.test.")?, RecordType::A);
//! assert_eq!(missing.code, ResponseCode::NXDomain);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use hickory_proto::rr::{LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_proto::serialize::txt::{ParseError, Parser};

use crate::DnsError;

mod lookup;

pub use lookup::Answer;

/// The records of one zone, by owner name, with its SOA.
#[derive(Clone, Debug)]
pub struct Zone {
    origin: Name,
    /// The origin, lower-cased, as the maps' keys are.
    apex: LowerName,
    soa: Record,
    /// Every record, by its owner's lower-cased name.
    nodes: HashMap<LowerName, Vec<Record>>,
    /// Every name that owns records and every name between them and the
    /// origin (the empty non-terminals), which exist without records.
    names: HashSet<LowerName>,
}

impl Zone {
    /// Reads the master file at `path`. `$INCLUDE` paths are taken
    /// relative to its folder. Without `$ORIGIN` in the file, `origin`
    /// must say which zone it is.
    pub fn load(path: impl AsRef<Path>, origin: Option<Name>) -> Result<Zone, DnsError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|error| DnsError::Zone {
            path: Some(path.to_path_buf()),
            reason: error.to_string(),
        })?;
        let parsed = Parser::new(text, Some(path.to_path_buf()), origin).parse();
        Zone::from_parsed(parsed, Some(path.to_path_buf()))
    }

    /// Parses master-file text. `$INCLUDE` is refused here, since a text
    /// has no folder to include from and should not reach the file system.
    pub fn parse(text: &str, origin: Option<Name>) -> Result<Zone, DnsError> {
        // The parser acts on `$INCLUDE` only as the first thing on a line.
        if text
            .split(['\n', '\r'])
            .any(|line| line.starts_with("$INCLUDE"))
        {
            return Err(DnsError::Zone {
                path: None,
                reason: "$INCLUDE is only read from a zone file (Zone::load)".into(),
            });
        }
        Zone::from_parsed(Parser::new(text, None, origin).parse(), None)
    }

    fn from_parsed(
        parsed: Result<(Name, BTreeMap<RrKey, RecordSet>), ParseError>,
        path: Option<PathBuf>,
    ) -> Result<Zone, DnsError> {
        let bad = |reason: String| DnsError::Zone {
            path: path.clone(),
            reason,
        };
        let (origin, sets) = parsed.map_err(|error| bad(error.to_string()))?;
        let records = sets
            .into_values()
            .flat_map(|set| set.records_without_rrsigs().cloned().collect::<Vec<_>>());
        Zone::from_records(origin, records).map_err(|error| match error {
            DnsError::Zone { reason, .. } => bad(reason),
            other => other,
        })
    }

    /// A zone of `origin` made of `records`, checked as a loaded file is.
    pub fn from_records(
        origin: Name,
        records: impl IntoIterator<Item = Record>,
    ) -> Result<Zone, DnsError> {
        let bad = |reason: String| DnsError::Zone { path: None, reason };
        let mut origin = origin;
        origin.set_fqdn(true);
        let apex = LowerName::new(&origin);
        let mut soa = None;
        let mut nodes: HashMap<LowerName, Vec<Record>> = HashMap::new();
        let mut names = HashSet::new();
        for record in records {
            let owner = LowerName::new(&record.name);
            if !apex.zone_of(&owner) {
                return Err(bad(format!("{} is outside {origin}", record.name)));
            }
            if let RData::SOA(_) = &record.data {
                if owner != apex {
                    return Err(bad(format!("SOA at {}, not at {origin}", record.name)));
                }
                if soa.replace(record.clone()).is_some() {
                    return Err(bad("more than one SOA".into()));
                }
            }
            let mut name = owner.clone();
            while names.insert(name.clone()) && name != apex {
                name = name.base_name();
            }
            let node = nodes.entry(owner).or_default();
            if !node.contains(&record) {
                node.push(record);
            }
        }
        let soa = soa.ok_or_else(|| bad(format!("no SOA record at {origin}")))?;
        Ok(Zone {
            origin,
            apex,
            soa,
            nodes,
            names,
        })
    }

    /// The zone's name.
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// The zone's SOA record.
    pub fn soa(&self) -> &Record {
        &self.soa
    }

    /// Whether `name` is this zone's or below it.
    pub fn contains(&self, name: &Name) -> bool {
        self.origin.zone_of(name)
    }

    /// The records `name` owns of type `record_type` (every type for
    /// [`RecordType::ANY`]).
    pub fn records(&self, name: &Name, record_type: RecordType) -> Vec<&Record> {
        self.nodes
            .get(&LowerName::new(name))
            .map(|node| {
                node.iter()
                    .filter(|r| record_type == RecordType::ANY || r.record_type() == record_type)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every record of the zone, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Record> {
        self.nodes.values().flatten()
    }

    /// Whether `name` exists in the zone: it owns records, or names below
    /// it do.
    fn exists(&self, name: &LowerName) -> bool {
        self.names.contains(name)
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
