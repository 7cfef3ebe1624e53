//! Parsed JSON as the protocol reads it, typed readers whose errors name the member, and
//! [`json_object!`](crate::json_object), the one declaration of a type's JSON shape.
//!
//! The SPA parses with the browser (`JSON.parse`) and converts the result into [`Json`]; the
//! tests convert serde_json's value. The readers ([`FromJson`]) then check every member this
//! crate uses and say which one is wrong (`"keys[1].n" must be a string`), without serde at run
//! time: serde's error path (its messages, `str` escaping and float formatting) would be most
//! of what the SPA downloads for JSON.
//!
//! The servers read and write the same types with serde. Both readings come from one
//! declaration: [`json_object!`](crate::json_object) takes a struct whose every member names its
//! JSON member, and emits the struct with serde's derives (renamed members, optional members
//! left out when absent) together with its [`FromJson`] (through [`Fields`]) and, if asked, its
//! [`ToJson`]. Adding a member is one line; the parity test in the crate root holds the two
//! readings to the same verdicts. The macro is `macro_rules!` rather than a derive: a
//! procedural macro crate would be one more crate to publish and build, for a grammar this
//! small.
//!
//! Every reader ignores unknown members and treats `null` as absent for optional ones, like
//! the serde derives of the same types.

use serde::Deserialize as _;
use std::fmt;

/// One JSON value. Objects keep their members in document order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number (JSON numbers are IEEE doubles to a browser).
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object: (name, value) pairs in document order.
    Object(Vec<(String, Json)>),
}

/// Largest integer a JSON number carries exactly to a browser (2^53 - 1).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

impl Json {
    /// The member `name` of an object; `None` for a missing member or a value that is no object.
    pub fn get(&self, name: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is a number without a fraction that a browser holds exactly.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Json::Number(n) if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER => Some(n as i64),
            _ => None,
        }
    }

    /// Compact JSON text of this value (strings escaped as RFC 8259 §7 requires).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(_) => match self.as_i64() {
                Some(i) => out.push_str(&i.to_string()),
                // Only integers are ever written (times, counts); anything else would need float
                // formatting in the download for no use.
                None => out.push_str("null"),
            },
            Json::String(s) => write_string(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(name, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(char::from(HEX[(c as usize) >> 4]));
                out.push(char::from(HEX[(c as usize) & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl From<&str> for Json {
    fn from(s: &str) -> Self {
        Json::String(s.to_owned())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Self {
        Json::String(s)
    }
}

impl From<i64> for Json {
    fn from(n: i64) -> Self {
        Json::Number(n as f64)
    }
}

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(value: Option<T>) -> Self {
        value.map_or(Json::Null, Into::into)
    }
}

/// Why a JSON document does not fit the type it is read as. Its `Display` names the member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Where: `issuer`, `keys[2].n`, … (empty for the document itself).
    path: String,
    problem: Problem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    NotJson,
    Missing,
    /// What the member must be: "a string", "an integer", …
    Expected(&'static str),
}

impl JsonError {
    /// The text is not JSON at all.
    pub fn not_json() -> Self {
        JsonError {
            path: String::new(),
            problem: Problem::NotJson,
        }
    }

    /// A required member is absent (or `null`).
    pub fn missing(name: &str) -> Self {
        JsonError {
            path: name.to_owned(),
            problem: Problem::Missing,
        }
    }

    /// The value is of the wrong kind; `expected` says what it must be ("a string").
    pub fn expected(expected: &'static str) -> Self {
        JsonError {
            path: String::new(),
            problem: Problem::Expected(expected),
        }
    }

    /// The member (`"name"`) or element (`"[3]"`) the error is inside of.
    pub fn inside(mut self, step: &str) -> Self {
        if !self.path.is_empty() && !self.path.starts_with('[') {
            self.path.insert(0, '.');
        }
        self.path.insert_str(0, step);
        self
    }

    /// Where the error is: `keys[2].n`; empty for the document itself.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.problem == Problem::NotJson {
            return f.write_str("it is not valid JSON");
        }
        if self.path.is_empty() {
            f.write_str("the document")?;
        } else {
            f.write_str("\"")?;
            f.write_str(&self.path)?;
            f.write_str("\"")?;
        }
        match self.problem {
            Problem::NotJson => Ok(()),
            Problem::Missing => f.write_str(" is missing"),
            Problem::Expected(what) => {
                f.write_str(" must be ")?;
                f.write_str(what)
            }
        }
    }
}

impl std::error::Error for JsonError {}

/// A type read from parsed JSON, with errors that name the member.
pub trait FromJson: Sized {
    /// Reads `value`; unknown members are ignored.
    fn from_json(value: &Json) -> Result<Self, JsonError>;
}

/// A type written as JSON (for storage).
pub trait ToJson {
    /// The value as JSON.
    fn to_json(&self) -> Json;
}

/// The members of one JSON object, read by name.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a>(&'a [(String, Json)]);

impl<'a> Fields<'a> {
    /// The members of `value`, or an error if it is not an object.
    pub fn of(value: &'a Json) -> Result<Self, JsonError> {
        match value {
            Json::Object(members) => Ok(Fields(members)),
            _ => Err(JsonError::expected("an object")),
        }
    }

    /// The member `name`; `null` counts as absent.
    pub fn get(&self, name: &str) -> Option<&'a Json> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .filter(|v| **v != Json::Null)
    }

    /// Whether the object has the member `name` at all (whatever its value, `null` included).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// An optional member read with `read`; its errors are placed inside `name`.
    // Plain matches rather than `map`/`transpose`: there is one copy of this per member type
    // in the download, and the closures made each copy a third larger.
    pub fn opt<T>(
        &self,
        name: &str,
        read: impl FnOnce(&'a Json) -> Result<T, JsonError>,
    ) -> Result<Option<T>, JsonError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => match read(value) {
                Ok(read) => Ok(Some(read)),
                Err(e) => Err(e.inside(name)),
            },
        }
    }

    /// A required member read with `read`.
    pub fn req<T>(
        &self,
        name: &str,
        read: impl FnOnce(&'a Json) -> Result<T, JsonError>,
    ) -> Result<T, JsonError> {
        match self.opt(name, read)? {
            Some(read) => Ok(read),
            None => Err(JsonError::missing(name)),
        }
    }

    // The typed helpers below read through `ReadMember`, as `json_object!` types do, so a
    // hand-written reader and a declared one share one copy of each reader in the download.

    /// A required string member.
    pub fn string(&self, name: &str) -> Result<String, JsonError> {
        String::read_member(self, name)
    }

    /// An optional string member.
    pub fn opt_string(&self, name: &str) -> Result<Option<String>, JsonError> {
        Option::<String>::read_member(self, name)
    }

    /// A required integer member.
    pub fn int(&self, name: &str) -> Result<i64, JsonError> {
        i64::read_member(self, name)
    }

    /// An optional integer member.
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, JsonError> {
        Option::<i64>::read_member(self, name)
    }

    /// An optional non-negative integer member.
    pub fn opt_uint(&self, name: &str) -> Result<Option<u64>, JsonError> {
        Option::<u64>::read_member(self, name)
    }

    /// An optional boolean member.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, JsonError> {
        Option::<bool>::read_member(self, name)
    }

    /// An optional array of strings.
    pub fn opt_strings(&self, name: &str) -> Result<Option<Vec<String>>, JsonError> {
        Option::<Vec<String>>::read_member(self, name)
    }
}

/// A string value.
pub fn string(value: &Json) -> Result<String, JsonError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or(JsonError::expected("a string"))
}

/// An integer value (a number without fraction, within ±2^53).
pub fn int(value: &Json) -> Result<i64, JsonError> {
    value.as_i64().ok_or(JsonError::expected("an integer"))
}

/// A non-negative integer value (within 2^53).
pub fn uint(value: &Json) -> Result<u64, JsonError> {
    value
        .as_i64()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or(JsonError::expected("a non-negative integer"))
}

/// An array whose every element is read with `read`; errors name the element (`[3]`).
pub fn array<T>(
    value: &Json,
    mut read: impl FnMut(&Json) -> Result<T, JsonError>,
) -> Result<Vec<T>, JsonError> {
    let Json::Array(items) = value else {
        return Err(JsonError::expected("an array"));
    };
    // A plain loop rather than collecting `Result`s: one copy per element type in the
    // download, and the iterator adapters made each copy larger.
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match read(item) {
            Ok(value) => out.push(value),
            Err(e) => return Err(e.inside(&format!("[{i}]"))),
        }
    }
    Ok(out)
}

/// An absent or `null` member becomes `T::default()` (an empty list, 0, …); a present one
/// must be a `T`. A reader for [`json_object!`](crate::json_object)'s `with`; serde reads the
/// same with [`null_as_default`]:
/// `#[serde(default, deserialize_with = "hashgate_protocol::json::null_as_default")]`.
pub fn or_default<T: FromJson + Default>(fields: &Fields<'_>, name: &str) -> Result<T, JsonError> {
    Ok(fields.opt(name, T::from_json)?.unwrap_or_default())
}

/// serde's reading of [`or_default`]: a `null` member is `T::default()` (and with
/// `#[serde(default)]`, so is an absent one).
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl FromJson for String {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        string(value)
    }
}

impl FromJson for i64 {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        int(value)
    }
}

impl FromJson for u64 {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        uint(value)
    }
}

impl FromJson for u32 {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        uint(value).and_then(|n| {
            u32::try_from(n).map_err(|_| JsonError::expected("an integer below 4294967296"))
        })
    }
}

impl FromJson for bool {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        match value {
            Json::Bool(b) => Ok(*b),
            _ => Err(JsonError::expected("true or false")),
        }
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        array(value, T::from_json)
    }
}

impl FromJson for Json {
    /// Any value, kept as it is (for members whose shape this crate does not fix).
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        Ok(value.clone())
    }
}

impl ToJson for str {
    fn to_json(&self) -> Json {
        self.into()
    }
}

impl ToJson for String {
    fn to_json(&self) -> Json {
        self.as_str().into()
    }
}

impl ToJson for i64 {
    fn to_json(&self) -> Json {
        (*self).into()
    }
}

impl ToJson for u64 {
    fn to_json(&self) -> Json {
        Json::Number(*self as f64)
    }
}

impl ToJson for u32 {
    fn to_json(&self) -> Json {
        i64::from(*self).into()
    }
}

impl ToJson for bool {
    fn to_json(&self) -> Json {
        Json::Bool(*self)
    }
}

impl<T: ToJson> ToJson for [T] {
    fn to_json(&self) -> Json {
        Json::Array(self.iter().map(ToJson::to_json).collect())
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn to_json(&self) -> Json {
        self.as_slice().to_json()
    }
}

impl ToJson for Json {
    fn to_json(&self) -> Json {
        self.clone()
    }
}

/// How [`json_object!`](crate::json_object) reads a member of this type: a value
/// ([`FromJson`]) is required, so an absent or `null` member is "missing"; an `Option` of one
/// is optional. Errors are placed inside the member's name.
pub trait ReadMember: Sized {
    /// Reads the member `name` of `fields`.
    fn read_member(fields: &Fields<'_>, name: &str) -> Result<Self, JsonError>;
}

impl<T: FromJson> ReadMember for T {
    fn read_member(fields: &Fields<'_>, name: &str) -> Result<Self, JsonError> {
        fields.req(name, T::from_json)
    }
}

impl<T: FromJson> ReadMember for Option<T> {
    fn read_member(fields: &Fields<'_>, name: &str) -> Result<Self, JsonError> {
        fields.opt(name, T::from_json)
    }
}

/// How [`json_object!`](crate::json_object) writes a member of this type: a value
/// ([`ToJson`]) always, an `Option` of one only when it is `Some` (like serde's
/// `skip_serializing_if = "Option::is_none"`, which the macro sets to [`Self::is_absent`]).
pub trait WriteMember {
    /// Appends the member `name` to `members`, unless it is absent.
    fn write_member(&self, name: &str, members: &mut Vec<(String, Json)>);

    /// Whether the member is left out when written.
    fn is_absent(&self) -> bool {
        false
    }
}

impl<T: ToJson> WriteMember for T {
    fn write_member(&self, name: &str, members: &mut Vec<(String, Json)>) {
        members.push((name.to_owned(), self.to_json()));
    }
}

impl<T: ToJson> WriteMember for Option<T> {
    fn write_member(&self, name: &str, members: &mut Vec<(String, Json)>) {
        if let Some(value) = self {
            value.write_member(name, members);
        }
    }

    fn is_absent(&self) -> bool {
        self.is_none()
    }
}

/// serde, for the code [`json_object!`](crate::json_object) emits in crates that do not
/// depend on serde themselves.
#[doc(hidden)]
pub use serde as __serde;

/// Declares a struct and its JSON shape at once: every member names its JSON member, and the
/// one declaration gives both readings of the type.
///
/// - the struct, with the attributes and documentation written on it and its members;
/// - serde's `Deserialize` (and with `ToJson`, `Serialize`) derived for it, each member renamed
///   to its JSON name, absent optional members left out when written: what the servers use;
/// - [`FromJson`], reading through [`Fields`] with errors that name the member
///   (`"keys[1].kty" must be a string`): what the SPA uses, without serde in its download;
/// - with `: FromJson + ToJson`, [`ToJson`] writing the same members serde writes
///   (`pub struct Name: FromJson { … }` declares a type that is only read).
///
/// A member's type says how it is read ([`ReadMember`]) and written ([`WriteMember`]): a
/// [`FromJson`] type (`String`, `i64`, `u64`, `u32`, `bool`, `Vec<T>`, [`Json`], another
/// declared type) or a secret of [`crate::secret`] is required, an `Option` of one optional
/// (`null` counts as absent), unknown members are ignored. A member
/// read another way names its reader after `with` (a function
/// `fn(&Fields<'_>, &str) -> Result<T, JsonError>`, such as [`or_default`]) and gives serde the
/// same rule in its own `#[serde(...)]` attribute on that member (for [`or_default`]:
/// `#[serde(default, deserialize_with = "hashgate_protocol::json::null_as_default")]`); the
/// crate's parity test holds the two readings to the same verdicts.
///
/// The expansion names serde through this crate (`hashgate_protocol::json::__serde`), so a
/// crate using the macro needs no serde dependency of its own, but must depend on this crate
/// under its own name, `hashgate_protocol`.
///
/// ```
/// use hashgate_protocol::json::{FromJson, Json, ToJson};
///
/// hashgate_protocol::json_object! {
///     /// A message as the API lists it.
///     #[derive(Debug, Clone, PartialEq)]
///     pub struct Message: FromJson + ToJson {
///         /// What the user posted.
///         pub text: String = "text",
///         /// When it was stored (RFC 3339), if the API says.
///         pub created_at: Option<String> = "createdAt",
///     }
/// }
///
/// let document = Json::Object(vec![("text".into(), "hello".into())]);
/// let message = Message::from_json(&document).unwrap();
/// assert_eq!(message.created_at, None);
/// assert_eq!(message.to_json(), document);
///
/// let wrong = Json::Object(vec![("text".into(), Json::Bool(true))]);
/// let error = Message::from_json(&wrong).unwrap_err();
/// assert_eq!(error.to_string(), "\"text\" must be a string");
/// ```
#[macro_export]
macro_rules! json_object {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident : FromJson + ToJson {
            $(
                $(#[$fmeta:meta])*
                $fvis:vis $field:ident : $fty:ty = $json:literal $(with $reader:path)?
            ),* $(,)?
        }
    ) => {
        $crate::json_object! {
            @struct [Deserialize, Serialize]
            $(#[$meta])*
            $vis struct $name { $( $(#[$fmeta])* $fvis $field : $fty = $json ),* }
        }
        $crate::json_object! {
            @from_json $name { $( $field : $fty = $json $(with $reader)? ),* }
        }
        impl $crate::json::ToJson for $name {
            fn to_json(&self) -> $crate::json::Json {
                let mut members = ::std::vec::Vec::new();
                $( $crate::json::WriteMember::write_member(&self.$field, $json, &mut members); )*
                $crate::json::Json::Object(members)
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident : FromJson {
            $(
                $(#[$fmeta:meta])*
                $fvis:vis $field:ident : $fty:ty = $json:literal $(with $reader:path)?
            ),* $(,)?
        }
    ) => {
        $crate::json_object! {
            @struct [Deserialize]
            $(#[$meta])*
            $vis struct $name { $( $(#[$fmeta])* $fvis $field : $fty = $json ),* }
        }
        $crate::json_object! {
            @from_json $name { $( $field : $fty = $json $(with $reader)? ),* }
        }
    };
    (
        @struct [$($derive:ident),*]
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $fty:ty = $json:literal ),*
        }
    ) => {
        $(#[$meta])*
        #[derive($($crate::json::__serde::$derive),*)]
        #[serde(crate = "hashgate_protocol::json::__serde")]
        $vis struct $name {
            $(
                $(#[$fmeta])*
                #[serde(
                    rename = $json,
                    skip_serializing_if = "hashgate_protocol::json::WriteMember::is_absent"
                )]
                $fvis $field: $fty,
            )*
        }
    };
    (
        @from_json $name:ident {
            $( $field:ident : $fty:ty = $json:literal $(with $reader:path)? ),*
        }
    ) => {
        impl $crate::json::FromJson for $name {
            fn from_json(
                value: &$crate::json::Json,
            ) -> ::core::result::Result<Self, $crate::json::JsonError> {
                let fields = $crate::json::Fields::of(value)?;
                ::core::result::Result::Ok($name {
                    $( $field: $crate::json_object!(@read fields $json, $fty $(, $reader)?), )*
                })
            }
        }
    };
    (@read $fields:ident $json:literal, $fty:ty) => {
        <$fty as $crate::json::ReadMember>::read_member(&$fields, $json)?
    };
    (@read $fields:ident $json:literal, $fty:ty, $reader:path) => {
        $reader(&$fields, $json)?
    };
}

/// Test support: serde_json's values as [`Json`], so the readers are tested on real JSON text.
#[cfg(test)]
pub(crate) fn parse(text: &str) -> Json {
    fn convert(value: serde_json::Value) -> Json {
        match value {
            serde_json::Value::Null => Json::Null,
            serde_json::Value::Bool(b) => Json::Bool(b),
            serde_json::Value::Number(n) => Json::Number(n.as_f64().unwrap()),
            serde_json::Value::String(s) => Json::String(s),
            serde_json::Value::Array(items) => {
                Json::Array(items.into_iter().map(convert).collect())
            }
            serde_json::Value::Object(members) => Json::Object(
                members
                    .into_iter()
                    .map(|(name, value)| (name, convert(value)))
                    .collect(),
            ),
        }
    }
    convert(serde_json::from_str(text).unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_member_and_the_element_they_are_in() {
        // docs/contract.md §1: a broken document is reported with the member at fault.
        let doc = parse(r#"{"keys":[{"kty":"RSA"},{"kty":5}]}"#);
        let read = |v: &Json| {
            Fields::of(v)?.req("keys", |keys| {
                array(keys, |key| Fields::of(key)?.string("kty"))
            })
        };
        let err = read(&doc).unwrap_err();
        assert_eq!(err.path(), "keys[1].kty");
        assert_eq!(err.to_string(), "\"keys[1].kty\" must be a string");
        let err = read(&parse(r#"{"key":[]}"#)).unwrap_err();
        assert_eq!(err.to_string(), "\"keys\" is missing");
        let err = read(&parse("[1]")).unwrap_err();
        assert_eq!(err.to_string(), "the document must be an object");
        assert_eq!(JsonError::not_json().to_string(), "it is not valid JSON");
    }

    #[test]
    fn null_is_absent_and_unknown_members_are_ignored() {
        // Same reading as the serde derives: `null` for an optional member is no value.
        let doc = parse(r#"{"a":null,"b":"x","unknown":{"deep":[1,2]}}"#);
        let fields = Fields::of(&doc).unwrap();
        assert_eq!(fields.opt_string("a"), Ok(None));
        assert!(fields.has("a"));
        assert_eq!(fields.opt_string("b"), Ok(Some("x".into())));
        assert_eq!(fields.string("a"), Err(JsonError::missing("a")));
    }

    #[test]
    fn integers_must_be_exact() {
        // RFC 7519 §2 NumericDate: the app reads whole seconds; a fraction or a value beyond
        // what a browser holds exactly is refused rather than rounded.
        for (text, ok) in [
            ("1700000000", Some(1_700_000_000)),
            ("-5", Some(-5)),
            ("1700000000.0", Some(1_700_000_000)),
            ("1700000000.5", None),
            ("1e300", None),
            ("9007199254740993", None),
        ] {
            let doc = parse(&format!(r#"{{"exp":{text}}}"#));
            assert_eq!(Fields::of(&doc).unwrap().int("exp").ok(), ok, "{text}");
        }
        // RFC 6749 §5.1 `expires_in` and counts are never negative.
        let doc = parse(r#"{"n":-5,"m":7}"#);
        let fields = Fields::of(&doc).unwrap();
        assert_eq!(
            fields.opt_uint("n").unwrap_err().to_string(),
            "\"n\" must be a non-negative integer"
        );
        assert_eq!(fields.opt_uint("m"), Ok(Some(7)));
    }

    #[test]
    fn written_json_reads_back_with_serde_json() {
        // What the SPA stores must be JSON that any parser reads back unchanged.
        let value = Json::Object(vec![
            (
                "s".into(),
                "quote \" backslash \\ newline \n nul \u{0} é \u{2028}".into(),
            ),
            ("n".into(), Json::from(-1_700_000_000i64)),
            ("none".into(), Json::from(None::<String>)),
            ("b".into(), Json::Bool(true)),
            ("a".into(), Json::Array(vec!["x".into(), Json::from(3i64)])),
        ]);
        let text = value.to_text();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back,
            serde_json::json!({
                "s": "quote \" backslash \\ newline \n nul \u{0} é \u{2028}",
                "n": -1_700_000_000i64,
                "none": null,
                "b": true,
                "a": ["x", 3],
            }),
            "{text}"
        );
    }

    crate::json_object! {
        /// An element of [`Basket`]: a required renamed member and an optional one.
        #[derive(Debug, Clone, PartialEq)]
        struct Item: FromJson + ToJson {
            /// Required, and named differently in JSON.
            name: String = "itemName",
            /// Optional, and narrower than JSON's integers.
            count: Option<u32> = "count",
        }
    }

    crate::json_object! {
        /// A declared type holding declared types, and a member read `with` its own reader.
        #[derive(Debug, Clone, PartialEq)]
        struct Basket: FromJson + ToJson {
            /// Required list of declared elements.
            items: Vec<Item> = "items",
            /// Empty when absent or `null`.
            #[serde(default, deserialize_with = "hashgate_protocol::json::null_as_default")]
            tags: Vec<String> = "tags" with or_default,
            /// Optional.
            note: Option<String> = "note",
        }
    }

    fn read(text: &str) -> Result<Basket, String> {
        Basket::from_json(&parse(text)).map_err(|e| e.to_string())
    }

    #[test]
    fn a_declared_type_reads_its_json_names_and_says_which_member_is_wrong() {
        // docs/contract.md §1: a broken document is reported with the member at fault, through
        // any depth of declared types.
        let basket =
            read(r#"{"items":[{"itemName":"a","count":2},{"itemName":"b","name":"x"}],"extra":1}"#)
                .unwrap();
        assert_eq!(
            basket.items,
            vec![
                Item {
                    name: "a".into(),
                    count: Some(2)
                },
                Item {
                    name: "b".into(),
                    count: None
                },
            ]
        );
        assert_eq!((basket.tags, basket.note), (vec![], None));
        for (text, error) in [
            (
                r#"{"items":[{"itemName":"a"},{"itemName":5}]}"#,
                r#""items[1].itemName" must be a string"#,
            ),
            (
                r#"{"items":[{"name":"a"}]}"#,
                r#""items[0].itemName" is missing"#,
            ),
            (
                r#"{"items":[{"itemName":"a","count":-1}]}"#,
                r#""items[0].count" must be a non-negative integer"#,
            ),
            (
                r#"{"items":[{"itemName":"a","count":4294967296}]}"#,
                r#""items[0].count" must be an integer below 4294967296"#,
            ),
            (r#"{"items":null}"#, r#""items" is missing"#),
            (
                r#"{"items":[],"tags":[1]}"#,
                r#""tags[0]" must be a string"#,
            ),
            (r#"{"items":[],"note":false}"#, r#""note" must be a string"#),
            ("[]", "the document must be an object"),
        ] {
            assert_eq!(read(text), Err(error.to_owned()), "{text}");
        }
        assert_eq!(
            read(r#"{"items":[],"tags":null,"note":null}"#)
                .unwrap()
                .tags,
            Vec::<String>::new()
        );
        assert_eq!(
            read(r#"{"items":[],"tags":["t"]}"#).unwrap().tags,
            vec!["t".to_owned()]
        );
    }

    #[test]
    fn a_declared_type_reads_like_its_serde_derive() {
        // The servers read the same types with serde: both readings come from one declaration
        // and must accept the same documents the same way.
        for text in [
            r#"{"items":[{"itemName":"a","count":2},{"itemName":"b","count":null}],"note":"n"}"#,
            r#"{"items":[],"tags":null}"#,
            r#"{"items":[],"tags":["x","y"],"unknown":{"a":[1]}}"#,
            r#"{"items":[{"itemName":"a"}],"tags":"x"}"#,
            r#"{"items":[{"name":"a"}]}"#,
            r#"{"items":[{"itemName":"a","count":-1}]}"#,
            r#"{"items":[{"itemName":"a","count":4294967296}]}"#,
            r#"{"items":null}"#,
            r#"{"tags":[]}"#,
            r#"{"items":[],"note":5}"#,
            "null",
        ] {
            let ours = Basket::from_json(&parse(text)).ok();
            let serde = serde_json::from_str::<Basket>(text).ok();
            assert_eq!(ours, serde, "{text}");
        }
    }

    #[test]
    fn a_declared_type_writes_what_its_serde_derive_writes() {
        // What the SPA stores is read back by either reading: absent optional members are left
        // out, as serde writes them, and everything else survives the round trip.
        let basket = Basket {
            items: vec![
                Item {
                    name: "a \" \\ é".into(),
                    count: Some(7),
                },
                Item {
                    name: "b".into(),
                    count: None,
                },
            ],
            tags: vec!["t".into()],
            note: None,
        };
        let text = basket.to_json().to_text();
        assert_eq!(
            text,
            r#"{"items":[{"itemName":"a \" \\ é","count":7},{"itemName":"b"}],"tags":["t"]}"#
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            serde_json::to_value(&basket).unwrap()
        );
        assert_eq!(Basket::from_json(&parse(&text)), Ok(basket));
    }
}
