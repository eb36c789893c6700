//! Protocol views: link → IPv4/IPv6 → fragments → UDP → NAT-T → IKE | ESP | AH | ICMP.
//!
//! Views borrow the captured bytes and never panic on short input.

pub mod checksum;
pub mod frag;
pub mod ip_proto;
pub mod isakmp;
pub mod link;
pub mod packet;
pub mod tcp;
