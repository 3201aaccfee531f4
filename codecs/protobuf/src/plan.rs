//! The decode plan of one message type, built once: which columns its
//! fields fill (nested messages flattened with a separator, lists, maps,
//! well-known types), and what a field absent from a message leaves.

use std::collections::HashMap;
use std::sync::Arc;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use topictable_sdk::arrow_schema::{DataType, Field, FieldRef, Fields, TimeUnit};

use crate::columns::Columns;
use crate::options::{EnumsAs, PlanOptions, TimeUnitConfig};

/// How one wire value is read and stored.
#[derive(Debug, Clone)]
pub enum ValueKind {
    /// `int32` (varint, truncated to 32 bits).
    Int32,
    /// `int64`.
    Int64,
    /// `uint32`.
    UInt32,
    /// `uint64`.
    UInt64,
    /// `sint32` (zigzag).
    SInt32,
    /// `sint64` (zigzag).
    SInt64,
    /// `fixed32`.
    Fixed32,
    /// `fixed64`.
    Fixed64,
    /// `sfixed32`.
    SFixed32,
    /// `sfixed64`.
    SFixed64,
    /// `float`.
    Float,
    /// `double`.
    Double,
    /// `bool`.
    Bool,
    /// `string` (checked UTF-8).
    String,
    /// `bytes`.
    Bytes,
    /// An enum as its value's name.
    EnumName(Arc<EnumNames>),
    /// An enum as its number.
    EnumInt,
    /// `google.protobuf.Timestamp`, in ms when `true`, else ns.
    Timestamp(bool),
    /// `google.protobuf.Duration`, in ms when `true`, else ns.
    Duration(bool),
    /// A wrapper (`google.protobuf.Int64Value`, …): its field 1.
    Wrapper(Box<ValueKind>),
    /// A message kept as its encoded bytes (a recursive type).
    RawMessage,
}

impl ValueKind {
    fn data_type(&self) -> DataType {
        match self {
            ValueKind::Int32 | ValueKind::SInt32 | ValueKind::SFixed32 | ValueKind::EnumInt => {
                DataType::Int32
            }
            ValueKind::Int64 | ValueKind::SInt64 | ValueKind::SFixed64 => DataType::Int64,
            ValueKind::UInt32 | ValueKind::Fixed32 => DataType::UInt32,
            ValueKind::UInt64 | ValueKind::Fixed64 => DataType::UInt64,
            ValueKind::Float => DataType::Float32,
            ValueKind::Double => DataType::Float64,
            ValueKind::Bool => DataType::Boolean,
            ValueKind::String | ValueKind::EnumName(_) => DataType::Utf8,
            ValueKind::Bytes | ValueKind::RawMessage => DataType::Binary,
            ValueKind::Timestamp(ms) => DataType::Timestamp(unit(*ms), Some("UTC".into())),
            ValueKind::Duration(ms) => DataType::Duration(unit(*ms)),
            ValueKind::Wrapper(inner) => inner.data_type(),
        }
    }

    /// The wire type a value of this kind is written with.
    pub fn wire_type(&self) -> u8 {
        match self {
            ValueKind::Int32
            | ValueKind::Int64
            | ValueKind::UInt32
            | ValueKind::UInt64
            | ValueKind::SInt32
            | ValueKind::SInt64
            | ValueKind::Bool
            | ValueKind::EnumName(_)
            | ValueKind::EnumInt => 0,
            ValueKind::Fixed64 | ValueKind::SFixed64 | ValueKind::Double => 1,
            ValueKind::Fixed32 | ValueKind::SFixed32 | ValueKind::Float => 5,
            _ => 2,
        }
    }
}

fn unit(ms: bool) -> TimeUnit {
    if ms {
        TimeUnit::Millisecond
    } else {
        TimeUnit::Nanosecond
    }
}

/// Enum value names by number.
#[derive(Debug)]
pub struct EnumNames {
    dense: Vec<Option<Arc<str>>>,
    sparse: HashMap<i32, Arc<str>>,
}

impl EnumNames {
    fn new(e: &prost_reflect::EnumDescriptor) -> Self {
        let mut dense = Vec::new();
        let mut sparse = HashMap::new();
        for v in e.values() {
            let name: Arc<str> = v.name().into();
            match usize::try_from(v.number()) {
                Ok(n) if n < 1024 => {
                    if dense.len() <= n {
                        dense.resize(n + 1, None);
                    }
                    dense[n].get_or_insert(name);
                }
                _ => {
                    sparse.entry(v.number()).or_insert(name);
                }
            }
        }
        Self { dense, sparse }
    }

    /// The name of `number`, if the enum has one.
    #[inline]
    pub fn name(&self, number: i32) -> Option<&str> {
        match usize::try_from(number) {
            Ok(n) if n < self.dense.len() => self.dense[n].as_deref(),
            _ => self.sparse.get(&number).map(|s| &**s),
        }
    }
}

/// What reading one field does.
#[derive(Debug)]
pub enum Action {
    /// Nothing: the field is excluded (its bytes are skipped).
    Skip,
    /// A value into `col`: the row's slot, or appended when `repeated` (a list's child).
    Value {
        /// How to read it.
        kind: ValueKind,
        /// The column.
        col: usize,
        /// Appended to a list's child column (packed encoding accepted).
        repeated: bool,
    },
    /// A nested message flattened into the same row; it marks `group` present.
    Flatten {
        /// The nested message's fields.
        plan: Box<MsgPlan>,
        /// Its presence flag.
        group: usize,
    },
    /// One element of a list of messages, or one map entry: a slot of struct `col`.
    Element {
        /// The element's fields and what absent ones leave.
        context: Box<Context>,
        /// The struct column.
        col: usize,
    },
    /// A singular message kept as a struct (a map's message value).
    Struct {
        /// Its fields.
        context: Box<Context>,
        /// The struct column.
        col: usize,
    },
}

/// One field of a message.
#[derive(Debug)]
pub struct FieldOp {
    /// Its path from the root message, e.g. `/addr/city`, for errors.
    pub path: Arc<str>,
    /// What reading it does.
    pub action: Action,
}

/// The fields of one message type, by field number.
#[derive(Debug, Default)]
pub struct MsgPlan {
    dense: Vec<u32>,
    sparse: HashMap<u32, u32>,
    /// The fields.
    pub ops: Vec<FieldOp>,
}

impl MsgPlan {
    fn add(&mut self, number: u32, op: FieldOp) {
        self.ops.push(op);
        let i = self.ops.len() as u32;
        if number < 4096 {
            let n = number as usize;
            if self.dense.len() <= n {
                self.dense.resize(n + 1, 0);
            }
            self.dense[n] = i;
        } else {
            self.sparse.insert(number, i);
        }
    }

    /// The field with `number`, if planned.
    #[inline]
    pub fn get(&self, number: u32) -> Option<&FieldOp> {
        let i = if (number as usize) < self.dense.len() {
            self.dense[number as usize]
        } else {
            *self.sparse.get(&number)?
        };
        if i == 0 {
            None
        } else {
            Some(&self.ops[i as usize - 1])
        }
    }

    fn is_empty(&self) -> bool {
        self.ops.iter().all(|o| matches!(o.action, Action::Skip))
    }

    fn remap(&mut self, map: &dyn Fn(usize) -> Option<usize>) {
        for op in &mut self.ops {
            let replace = match &mut op.action {
                Action::Skip => false,
                Action::Value { col, .. } => match map(*col) {
                    Some(c) => {
                        *col = c;
                        false
                    }
                    None => true,
                },
                Action::Flatten { plan, .. } => {
                    plan.remap(map);
                    false
                }
                Action::Element { context, col } | Action::Struct { context, col } => {
                    match map(*col) {
                        Some(c) => {
                            *col = c;
                            context.remap(map);
                            false
                        }
                        None => true,
                    }
                }
            };
            if replace {
                op.action = Action::Skip;
            }
        }
    }
}

/// What a field absent from a message leaves in its column.
#[derive(Debug, Clone)]
pub enum FillKind {
    /// The zero value (proto3 scalars without presence).
    Zero,
    /// A text (an enum's first value name).
    Text(Arc<str>),
    /// Null (fields with presence: messages, wrappers, `optional`, oneof members).
    Null,
    /// An empty list or map (a list column's row is closed).
    Close,
}

/// One column of a context and what it gets when nothing was written.
#[derive(Debug, Clone)]
pub struct Fill {
    /// The column.
    pub col: usize,
    /// The presence flag of its innermost flattened message (0: always present).
    pub group: usize,
    /// What it gets.
    pub kind: FillKind,
}

/// A record context: the top-level row, a list element, or a map entry.
#[derive(Debug, Default)]
pub struct Context {
    /// The fields.
    pub msg: MsgPlan,
    /// Every column directly in this context (flattened ones included).
    pub fills: Vec<Fill>,
    /// The presence flags of its flattened messages.
    pub groups: std::ops::Range<usize>,
}

impl Context {
    fn remap(&mut self, map: &dyn Fn(usize) -> Option<usize>) {
        self.msg.remap(map);
        self.fills.retain_mut(|f| match map(f.col) {
            Some(c) => {
                f.col = c;
                true
            }
            None => false,
        });
    }
}

/// The plan of a message type: its top-level columns and how to fill them.
#[derive(Debug)]
pub struct Plan {
    /// The message's full name.
    pub message: String,
    /// The top-level context.
    pub root: Context,
    /// The top-level columns, in schema order, and their fields.
    pub top: Vec<(usize, FieldRef)>,
    /// How many presence flags the plan uses.
    pub groups: usize,
}

/// Builds plans; columns go into `columns`.
pub struct Builder<'a> {
    opts: &'a PlanOptions,
    columns: &'a mut Columns,
    groups: usize,
    stack: Vec<String>,
    /// Fields planned so far, capped at [`MAX_PLAN_FIELDS`].
    planned: usize,
}

/// Most fields a plan may hold (nested messages flattened): far more than
/// any real schema needs, far less than a hostile one expands to (60
/// messages each with two fields of the next give 2^60).
pub const MAX_PLAN_FIELDS: usize = 100_000;

/// Where a context's columns are being created.
struct Ctx {
    fills: Vec<Fill>,
    /// The columns and fields of the context, in order.
    fields: Vec<(usize, FieldRef)>,
}

impl<'a> Builder<'a> {
    /// Builds the plan of `message`, creating its columns in `columns`.
    pub fn plan(
        opts: &'a PlanOptions,
        columns: &'a mut Columns,
        message: &MessageDescriptor,
    ) -> Result<Plan, String> {
        let mut b = Builder {
            opts,
            columns,
            // Flag 0 is the always-present root.
            groups: 1,
            stack: Vec::new(),
            planned: 0,
        };
        let (root, fields) = b.context(message, "")?;
        if fields.is_empty() {
            return Err(format!(
                "message `{}` gives no columns (no fields, or include/exclude left none)",
                message.full_name()
            ));
        }
        Ok(Plan {
            message: message.full_name().to_string(),
            root,
            top: fields,
            groups: b.groups,
        })
    }

    fn context(
        &mut self,
        message: &MessageDescriptor,
        path: &str,
    ) -> Result<(Context, Vec<(usize, FieldRef)>), String> {
        let mut ctx = Ctx {
            fills: Vec::new(),
            fields: Vec::new(),
        };
        let start = self.groups;
        self.stack.push(message.full_name().to_string());
        let msg = self.message(message, path, "", 0, &mut ctx)?;
        self.stack.pop();
        Ok((
            Context {
                msg,
                fills: ctx.fills,
                groups: start..self.groups,
            },
            ctx.fields,
        ))
    }

    fn message(
        &mut self,
        message: &MessageDescriptor,
        path: &str,
        name: &str,
        group: usize,
        ctx: &mut Ctx,
    ) -> Result<MsgPlan, String> {
        let mut plan = MsgPlan::default();
        for f in message.fields() {
            let fpath = format!("{path}/{}", f.name());
            let fname = if name.is_empty() {
                f.name().to_string()
            } else {
                format!("{name}{}{}", self.opts.separator, f.name())
            };
            let action = self.field(&f, &fpath, &fname, group, ctx)?;
            plan.add(
                f.number(),
                FieldOp {
                    path: fpath.into(),
                    action,
                },
            );
        }
        Ok(plan)
    }

    fn column(
        &mut self,
        ctx: &mut Ctx,
        name: &str,
        data_type: DataType,
        children: Vec<usize>,
    ) -> usize {
        let col = self.columns.add(data_type.clone(), children);
        ctx.fields
            .push((col, Arc::new(Field::new(name, data_type, true))));
        col
    }

    fn field(
        &mut self,
        f: &FieldDescriptor,
        path: &str,
        name: &str,
        group: usize,
        ctx: &mut Ctx,
    ) -> Result<Action, String> {
        self.planned += 1;
        if self.planned > MAX_PLAN_FIELDS {
            return Err(format!(
                "field {path}: the message expands to more than {MAX_PLAN_FIELDS} fields (a message type used in many places, nested?)"
            ));
        }
        if f.is_map() {
            if !self.keep(path) {
                return Ok(Action::Skip);
            }
            let Kind::Message(entry) = f.kind() else {
                return Err(format!("field {path}: a map without an entry message"));
            };
            let key = entry.map_entry_key_field();
            let value = entry.map_entry_value_field();
            let mut ectx = Ctx {
                fills: Vec::new(),
                fields: Vec::new(),
            };
            let key_kind = self
                .value_kind(&key, path)?
                .ok_or_else(|| format!("field {path}: a map key cannot be a message"))?;
            let key_col = self.columns.add(key_kind.data_type(), Vec::new());
            ectx.fields.push((
                key_col,
                Arc::new(Field::new("key", key_kind.data_type(), false)),
            ));
            ectx.fills.push(Fill {
                col: key_col,
                group: 0,
                kind: zero_fill(&key, self.opts.enums),
            });
            let mut entry_plan = MsgPlan::default();
            entry_plan.add(
                key.number(),
                FieldOp {
                    path: format!("{path}/key").into(),
                    action: Action::Value {
                        kind: key_kind,
                        col: key_col,
                        repeated: false,
                    },
                },
            );
            let vpath = format!("{path}/value");
            let value_action = match self.value_kind(&value, &vpath)? {
                Some(kind) => {
                    let col = self.columns.add(kind.data_type(), Vec::new());
                    ectx.fields
                        .push((col, Arc::new(Field::new("value", kind.data_type(), true))));
                    ectx.fills.push(Fill {
                        col,
                        group: 0,
                        kind: if value.kind().as_message().is_some() {
                            FillKind::Null
                        } else {
                            zero_fill(&value, self.opts.enums)
                        },
                    });
                    Action::Value {
                        kind,
                        col,
                        repeated: false,
                    }
                }
                None => {
                    let Kind::Message(vm) = value.kind() else {
                        unreachable!("value_kind is None only for messages")
                    };
                    let (context, fields) = self.context(&vm, &vpath)?;
                    let struct_fields: Fields = fields.iter().map(|(_, f)| f.clone()).collect();
                    let children = fields.iter().map(|(c, _)| *c).collect();
                    let dt = DataType::Struct(struct_fields);
                    let col = self.columns.add(dt.clone(), children);
                    ectx.fields
                        .push((col, Arc::new(Field::new("value", dt, true))));
                    ectx.fills.push(Fill {
                        col,
                        group: 0,
                        kind: FillKind::Null,
                    });
                    Action::Struct {
                        context: Box::new(context),
                        col,
                    }
                }
            };
            entry_plan.add(
                value.number(),
                FieldOp {
                    path: vpath.into(),
                    action: value_action,
                },
            );
            let entry_fields: Fields = ectx.fields.iter().map(|(_, f)| f.clone()).collect();
            let entries_type = DataType::Struct(entry_fields);
            let entries = self.columns.add(
                entries_type.clone(),
                ectx.fields.iter().map(|(c, _)| *c).collect(),
            );
            let dt = DataType::Map(Arc::new(Field::new("entries", entries_type, false)), false);
            let col = self.column(ctx, name, dt, vec![entries]);
            ctx.fills.push(Fill {
                col,
                group,
                kind: FillKind::Close,
            });
            return Ok(Action::Element {
                context: Box::new(Context {
                    msg: entry_plan,
                    fills: ectx.fills,
                    groups: 0..0,
                }),
                col: entries,
            });
        }
        if f.is_list() {
            let kind = self.value_kind(f, path)?;
            if let Some(kind) = kind {
                if !self.keep(path) {
                    return Ok(Action::Skip);
                }
                let item = kind.data_type();
                let child = self.columns.add(item.clone(), Vec::new());
                let dt = DataType::List(Arc::new(Field::new("item", item, true)));
                let col = self.column(ctx, name, dt, vec![child]);
                ctx.fills.push(Fill {
                    col,
                    group,
                    kind: FillKind::Close,
                });
                return Ok(Action::Value {
                    kind,
                    col: child,
                    repeated: true,
                });
            }
            let Kind::Message(m) = f.kind() else {
                unreachable!("value_kind is None only for messages")
            };
            if !self.reaches(path) {
                return Ok(Action::Skip);
            }
            let (context, fields) = self.context(&m, path)?;
            if fields.is_empty() {
                return Ok(Action::Skip);
            }
            let struct_fields: Fields = fields.iter().map(|(_, f)| f.clone()).collect();
            let children = fields.iter().map(|(c, _)| *c).collect();
            let sdt = DataType::Struct(struct_fields);
            let scol = self.columns.add(sdt.clone(), children);
            let dt = DataType::List(Arc::new(Field::new("item", sdt, true)));
            let col = self.column(ctx, name, dt, vec![scol]);
            ctx.fills.push(Fill {
                col,
                group,
                kind: FillKind::Close,
            });
            return Ok(Action::Element {
                context: Box::new(context),
                col: scol,
            });
        }
        match self.value_kind(f, path)? {
            Some(kind) => {
                if !self.keep(path) {
                    return Ok(Action::Skip);
                }
                let col = self.column(ctx, name, kind.data_type(), Vec::new());
                ctx.fills.push(Fill {
                    col,
                    group,
                    kind: if f.supports_presence() {
                        FillKind::Null
                    } else {
                        zero_fill(f, self.opts.enums)
                    },
                });
                Ok(Action::Value {
                    kind,
                    col,
                    repeated: false,
                })
            }
            None => {
                let Kind::Message(m) = f.kind() else {
                    unreachable!("value_kind is None only for messages")
                };
                if !self.reaches(path) {
                    return Ok(Action::Skip);
                }
                let g = self.groups;
                self.groups += 1;
                self.stack.push(m.full_name().to_string());
                let plan = self.message(&m, path, name, g, ctx)?;
                self.stack.pop();
                if plan.is_empty() {
                    return Ok(Action::Skip);
                }
                Ok(Action::Flatten {
                    plan: Box::new(plan),
                    group: g,
                })
            }
        }
    }

    /// How a field's values are read, or `None` for a message to flatten.
    fn value_kind(&self, f: &FieldDescriptor, path: &str) -> Result<Option<ValueKind>, String> {
        let ms = self.opts.time_unit == TimeUnitConfig::Ms;
        Ok(Some(match f.kind() {
            Kind::Double => ValueKind::Double,
            Kind::Float => ValueKind::Float,
            Kind::Int32 => ValueKind::Int32,
            Kind::Int64 => ValueKind::Int64,
            Kind::Uint32 => ValueKind::UInt32,
            Kind::Uint64 => ValueKind::UInt64,
            Kind::Sint32 => ValueKind::SInt32,
            Kind::Sint64 => ValueKind::SInt64,
            Kind::Fixed32 => ValueKind::Fixed32,
            Kind::Fixed64 => ValueKind::Fixed64,
            Kind::Sfixed32 => ValueKind::SFixed32,
            Kind::Sfixed64 => ValueKind::SFixed64,
            Kind::Bool => ValueKind::Bool,
            Kind::String => ValueKind::String,
            Kind::Bytes => ValueKind::Bytes,
            Kind::Enum(e) => match self.opts.enums {
                EnumsAs::String => ValueKind::EnumName(Arc::new(EnumNames::new(&e))),
                EnumsAs::Int => ValueKind::EnumInt,
            },
            Kind::Message(m) => {
                if f.is_group() {
                    return Err(format!("field {path}: proto2 groups are not supported"));
                }
                let wrapped = |k| ValueKind::Wrapper(Box::new(k));
                match m.full_name() {
                    "google.protobuf.Timestamp" => ValueKind::Timestamp(ms),
                    "google.protobuf.Duration" => ValueKind::Duration(ms),
                    "google.protobuf.DoubleValue" => wrapped(ValueKind::Double),
                    "google.protobuf.FloatValue" => wrapped(ValueKind::Float),
                    "google.protobuf.Int64Value" => wrapped(ValueKind::Int64),
                    "google.protobuf.UInt64Value" => wrapped(ValueKind::UInt64),
                    "google.protobuf.Int32Value" => wrapped(ValueKind::Int32),
                    "google.protobuf.UInt32Value" => wrapped(ValueKind::UInt32),
                    "google.protobuf.BoolValue" => wrapped(ValueKind::Bool),
                    "google.protobuf.StringValue" => wrapped(ValueKind::String),
                    "google.protobuf.BytesValue" => wrapped(ValueKind::Bytes),
                    name if self.stack.iter().any(|s| s == name) => ValueKind::RawMessage,
                    _ => return Ok(None),
                }
            }
        }))
    }

    /// Whether anything inside the message at `path` can become a column;
    /// if not, it is skipped without planning what it holds (which, for a
    /// message type used in many places, nested, could be huge).
    fn reaches(&self, path: &str) -> bool {
        let included =
            self.opts.include.is_empty() || self.opts.include.iter().any(|p| glob_reaches(p, path));
        included && !self.opts.exclude.iter().any(|p| glob_prefix(p, path))
    }

    /// Whether the leaf (or list, or map) at `path` becomes a column.
    fn keep(&self, path: &str) -> bool {
        let included =
            self.opts.include.is_empty() || self.opts.include.iter().any(|p| glob_prefix(p, path));
        included && !self.opts.exclude.iter().any(|p| glob_prefix(p, path))
    }
}

/// What a proto3 scalar without presence holds when absent: zero, or for
/// an enum shown by name, the name of its default value.
fn zero_fill(f: &FieldDescriptor, enums: EnumsAs) -> FillKind {
    if let (Kind::Enum(e), EnumsAs::String) = (f.kind(), enums)
        && let prost_reflect::Value::EnumNumber(n) = f.default_value()
    {
        return match e.get_value(n) {
            Some(v) => FillKind::Text(v.name().into()),
            None => FillKind::Text(n.to_string().into()),
        };
    }
    FillKind::Zero
}

/// Whether `pattern` matches `path` or one of its ancestors (`/a/b` keeps
/// `/a/b/c`); `*` matches within a segment, `**` any number of segments.
pub fn glob_prefix(pattern: &str, path: &str) -> bool {
    glob_match(pattern, path, false)
}

/// Whether `pattern` matches `path`, one of its ancestors, or may match a
/// field inside it: whether a message at `path` must be planned at all.
pub fn glob_reaches(pattern: &str, path: &str) -> bool {
    glob_match(pattern, path, true)
}

/// [`glob_prefix`], and with `inside` also a pattern longer than `path`
/// whose start matches it.
fn glob_match(pattern: &str, path: &str, inside: bool) -> bool {
    let pat: Vec<&str> = pattern
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    fn go(pat: &[&str], segs: &[&str], inside: bool) -> bool {
        match pat.split_first() {
            None => true,
            Some((&"**", rest)) => (0..=segs.len()).any(|i| go(rest, &segs[i..], inside)),
            Some((p, rest)) => match segs.split_first() {
                None => inside,
                Some((s, srest)) => segment_match(p, s) && go(rest, srest, inside),
            },
        }
    }
    go(&pat, &segs, inside)
}

fn segment_match(p: &str, s: &str) -> bool {
    match p.split_once('*') {
        None => p == s,
        Some((head, tail)) => {
            s.starts_with(head)
                && (0..=s.len() - head.len()).any(|i| {
                    s.is_char_boundary(head.len() + i) && segment_match(tail, &s[head.len() + i..])
                })
        }
    }
}

/// Rewrites a plan built in its own arena onto the reader's columns: a
/// top-level column of the same name and type maps (with its whole
/// subtree) onto the reader's, one missing from the reader is skipped, and
/// one of another type is an error naming the field.
pub fn bind(
    plan: &mut Plan,
    own: &Columns,
    reader: &Plan,
    reader_columns: &Columns,
) -> Result<Vec<usize>, String> {
    let mut map = HashMap::new();
    for (col, field) in &plan.top {
        let Some((rcol, rfield)) = reader.top.iter().find(|(_, f)| f.name() == field.name()) else {
            continue;
        };
        if rfield.data_type() != field.data_type() {
            return Err(format!(
                "field `{}` is {} in this message type ({}) but {} in the table's ({})",
                field.name(),
                field.data_type(),
                plan.message,
                rfield.data_type(),
                reader.message
            ));
        }
        pair(own, *col, reader_columns, *rcol, &mut map);
    }
    plan.root.remap(&|c| map.get(&c).copied());
    let covered: Vec<usize> = plan.root.fills.iter().map(|f| f.col).collect();
    plan.top.retain(|(c, _)| map.contains_key(c));
    for (c, _) in &mut plan.top {
        *c = map[c];
    }
    Ok(reader
        .top
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| !covered.contains(c))
        .collect())
}

fn pair(own: &Columns, a: usize, reader: &Columns, b: usize, map: &mut HashMap<usize, usize>) {
    use crate::columns::Data;
    map.insert(a, b);
    match (&own.cols[a].data, &reader.cols[b].data) {
        (Data::List { child: x, .. }, Data::List { child: y, .. }) => {
            pair(own, *x, reader, *y, map)
        }
        (Data::Struct { children: xs, .. }, Data::Struct { children: ys, .. }) => {
            for (x, y) in xs.iter().zip(ys) {
                pair(own, *x, reader, *y, map);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::{glob_prefix, glob_reaches};

    #[test]
    fn globs_match_a_path_or_its_ancestors() {
        assert!(glob_prefix("/a/b", "/a/b"));
        assert!(glob_prefix("/a/b", "/a/b/c"));
        assert!(!glob_prefix("/a/b", "/a/bc"));
        assert!(glob_prefix("/a/b/*", "/a/b/c/d"));
        assert!(!glob_prefix("/a/b/*", "/a/b"));
        assert!(glob_prefix("/a/*_id", "/a/user_id"));
        assert!(!glob_prefix("/a/*_id", "/a/user"));
        assert!(glob_prefix("/**/lat", "/ship_to/geo/lat"));
        assert!(glob_prefix("/**", "/x"));
        assert!(!glob_prefix("/x/**/lat", "/y/lat"));
    }

    #[test]
    fn globs_reach_into_a_message_that_holds_a_match() {
        assert!(glob_reaches("/a/b", "/a"));
        assert!(glob_reaches("/a/b", "/a/b/c"));
        assert!(!glob_reaches("/a/b", "/c"));
        assert!(!glob_reaches("/a/b", "/a/c"));
        assert!(glob_reaches("/*/b", "/x"));
        assert!(glob_reaches("/**/lat", "/anything"));
        assert!(!glob_reaches("/x/**/lat", "/y"));
    }
}
