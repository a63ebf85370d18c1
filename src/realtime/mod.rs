//! Real time (SPEC §6): one Durable Object per chat holds its WebSockets, fans out events in
//! `seq` order and runs typing indicators. The worker side publishes durable events here.

pub mod room;
