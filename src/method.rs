//! The names of the builtin methods, as small integers. The compiler resolves the name in
//! `x.name(...)` here once, and the VM finds the method in a per-type table by that
//! number (`vm::method_table`), so no call compares method names as strings.
//!
//! Invariant: this list is the only place a method's name is written; its number is its
//! position, and `from_name` / `name` agree with it by construction. A name that is a
//! method of no type resolves to nothing (on a map it may still name a stored function).

macro_rules! methods {
    ($($variant:ident = $name:literal,)*) => {
        /// A builtin method's name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub enum Method {
            $($variant,)*
        }

        impl Method {
            /// Every method, by number.
            pub const ALL: &[Method] = &[$(Method::$variant,)*];

            /// The name scripts call it by.
            pub fn name(self) -> &'static str {
                match self {
                    $(Method::$variant => $name,)*
                }
            }

            /// The method called `name`, if any type has one.
            pub fn from_name(name: &str) -> Option<Method> {
                match name {
                    $($name => Some(Method::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

methods! {
    // strings
    Upper = "upper",
    Lower = "lower",
    Strip = "strip",
    Lstrip = "lstrip",
    Rstrip = "rstrip",
    Split = "split",
    Join = "join",
    Find = "find",
    Replace = "replace",
    Startswith = "startswith",
    Endswith = "endswith",
    Rfind = "rfind",
    Count = "count",
    Splitlines = "splitlines",
    Partition = "partition",
    Title = "title",
    Capitalize = "capitalize",
    Isdigit = "isdigit",
    Isalpha = "isalpha",
    Isspace = "isspace",
    Isupper = "isupper",
    Islower = "islower",
    Ljust = "ljust",
    Rjust = "rjust",
    Center = "center",
    Zfill = "zfill",
    // lists
    Append = "append",
    Pop = "pop",
    Insert = "insert",
    Remove = "remove",
    Index = "index",
    Sort = "sort",
    Reverse = "reverse",
    Extend = "extend",
    Copy = "copy",
    Clear = "clear",
    // maps
    Keys = "keys",
    Values = "values",
    Items = "items",
    Get = "get",
    Update = "update",
    Setdefault = "setdefault",
    // threads, processes, locks and the other synchronisation primitives, queues,
    // sockets, channels
    IsAlive = "is_alive",
    Acquire = "acquire",
    Release = "release",
    Locked = "locked",
    Put = "put",
    Len = "len",
    Empty = "empty",
    Wait = "wait",
    Notify = "notify",
    NotifyAll = "notify_all",
    Set = "set",
    IsSet = "is_set",
    Kill = "kill",
    Send = "send",
    Recv = "recv",
    Accept = "accept",
    Close = "close",
    // `with` blocks: not identifiers, so no script can call them by name
    Enter = "<enter>",
    Exit = "<exit>",
    // more strings, last so that every number above stays what compiled code and the
    // disassembly golden files show
    Rpartition = "rpartition",
    Rsplit = "rsplit",
    Swapcase = "swapcase",
    // `x[a:b:k] = v`: not an identifier either
    SetSlice = "<setslice>",
}

impl Method {
    /// How many methods there are (the width of a method table).
    pub const COUNT: usize = Method::ALL.len();
}

/// The `CallMethod` operand for a name that is no builtin method.
pub const NO_METHOD: u8 = u8::MAX;

const _: () = assert!(Method::COUNT < NO_METHOD as usize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_round_trip() {
        for (i, m) in Method::ALL.iter().enumerate() {
            assert_eq!(*m as usize, i);
            assert_eq!(Method::from_name(m.name()), Some(*m));
        }
        assert_eq!(Method::from_name("nope"), None);
    }
}
