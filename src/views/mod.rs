//! Every JSON shape of the API, as typed `Serialize` structs, and how they are built from
//! storage rows: users, messages and reactions, chats, and the durable chat events
//! (openapi.json documents them). REST handlers, the event log's replay and the chat room all
//! send these; nothing else builds API JSON by hand but small status answers.

mod chats;
mod events;
mod messages;
mod users;

pub use chats::{Chat, Room};
pub use events::{ChatOrId, Event, EventBody, MessageOrId};
pub use messages::{Message, Reaction};
pub use users::{avatar_url, display_name, initials, UserSummary, UserWithEmail};
