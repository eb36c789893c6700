//! The failure taxonomy of DESIGN.md: every cause with its situation and stable id (the JSON
//! contract), and the observations that are not failures.

use serde::{Serialize, Serializer};

macro_rules! causes {
    ($($v:ident => $sit:literal, $id:literal;)*) => {
        /// A cause id of the taxonomy, or an observation (situation "-").
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Cause {
            $($v,)*
        }

        impl Cause {
            /// Every cause and observation, in the taxonomy's order.
            pub const ALL: &'static [Cause] = &[$(Cause::$v,)*];

            /// The stable id used by `--json`.
            pub fn id(self) -> &'static str {
                match self {
                    $(Cause::$v => $id,)*
                }
            }

            /// The write-up's situation (A–D), or "-" for healthy and observations.
            pub fn situation(self) -> &'static str {
                match self {
                    $(Cause::$v => $sit,)*
                }
            }
        }
    };
}

causes! {
    Healthy => "-", "healthy";
    ResponderNotListening => "A", "responder-not-listening";
    IkeFilteredAtResponder => "A", "ike-filtered-at-responder";
    IkeBlockedOnPath => "A", "ike-blocked-on-path";
    IkeRepliesLost => "A", "ike-replies-lost";
    IkeProposalRejected => "A", "ike-proposal-rejected";
    AuthFailed => "B", "auth-failed";
    IdMismatch => "B", "id-mismatch";
    IkeFragmentsDropped => "B", "ike-fragments-dropped";
    NattPort4500Blocked => "B", "natt-port-4500-blocked";
    ChildProposalMismatch => "C", "child-proposal-mismatch";
    TrafficSelectorMismatch => "C", "traffic-selector-mismatch";
    ChildSaInstallFailed => "C", "child-sa-install-failed";
    EspBlocked => "D", "esp-blocked";
    EspOneWay => "D", "esp-one-way";
    NatNotDetected => "D", "nat-not-detected";
    DecryptedNotForwarded => "D", "decrypted-not-forwarded";
    NoTrafficSent => "D", "no-traffic-sent";
    MtuBlackhole => "D", "mtu-blackhole";
    NatPresent => "-", "nat-present";
    NatDetected => "-", "nat-detected";
    NatFaked => "-", "nat-faked";
    IkeFragmentationUsed => "-", "ike-fragmentation-used";
    ClockOffset => "-", "clock-offset";
    Inconclusive => "?", "inconclusive";
}

impl Cause {
    /// A failure (situation A–D), not healthy, not an observation, not inconclusive.
    pub fn is_problem(self) -> bool {
        !matches!(self.situation(), "-" | "?")
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl PartialEq<&str> for Cause {
    fn eq(&self, other: &&str) -> bool {
        self.id() == *other
    }
}

impl PartialEq<String> for Cause {
    fn eq(&self, other: &String) -> bool {
        self.id() == other
    }
}

impl Serialize for Cause {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::Cause;

    #[test]
    fn ids_are_unique() {
        let ids: std::collections::HashSet<&str> = Cause::ALL.iter().map(|c| c.id()).collect();
        assert_eq!(ids.len(), Cause::ALL.len());
        assert_eq!(Cause::AuthFailed.situation(), "B");
        assert!(!Cause::Healthy.is_problem());
        assert!(Cause::EspOneWay.is_problem());
        assert!(!Cause::Inconclusive.is_problem());
    }
}
