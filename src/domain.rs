//! The domain's closed vocabularies: what kind a chat is and what kind an event is. Each is an
//! enum with one table of names, used for SQL text, JSON and parsing alike, so adding a kind is
//! one line that the compiler then checks at every `match`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An enum whose variants are stored and sent as fixed strings: `as_str`, `parse`, serde.
macro_rules! named_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stored and sent name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// The variant named `text`, if any.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                $name::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        concat!("unknown ", stringify!($name), " {:?}"), text
                    ))
                })
            }
        }
    };
}

named_enum! {
    /// `chat_type`.
    pub enum ChatKind {
        /// Two people; get-or-create by the pair.
        Dm = "dm",
        /// Any number of members with admins.
        Group = "group",
        /// A public group anyone may find, watch and join (SPEC §10).
        Room = "room",
    }
}

named_enum! {
    /// The type of a durable chat event (docs/realtime.md): the `type` of its JSON and of its
    /// `chat_events` row.
    pub enum EventKind {
        NewMessage = "new_message",
        MessageUpdated = "message_updated",
        MessageDeleted = "message_deleted",
        ReactionUpdated = "reaction_updated",
        ReadReceipt = "read_receipt",
        MembersAdded = "members_added",
        MemberRemoved = "member_removed",
        ChatUpdated = "chat_updated",
        ChatDeleted = "chat_deleted",
        /// A chat's creation, at seq 0: gives it a gid, from which its first members' user
        /// streams start (never sent on chat sockets, whose seqs start at 1).
        ChatCreated = "chat_created",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text_and_json() {
        for k in ChatKind::ALL {
            assert_eq!(ChatKind::parse(k.as_str()), Some(*k));
            let json = serde_json::to_string(k).unwrap();
            assert_eq!(serde_json::from_str::<ChatKind>(&json).unwrap(), *k);
        }
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(*k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(ChatKind::parse("channel"), None);
        assert!(serde_json::from_str::<EventKind>("\"dance\"").is_err());
    }
}
