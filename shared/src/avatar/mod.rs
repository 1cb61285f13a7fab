//! Avatars: the domain rules that the avatar functions share. [`image`] decides whether uploaded bytes are
//! really the image they claim to be.

pub mod image;
