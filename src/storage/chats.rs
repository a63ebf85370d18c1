//! Chats and members (filled in by the chats issue).
