//! The reader side: which Arrow columns a reader schema becomes, and where
//! each reader field's values go.

use std::collections::HashMap;
use std::sync::Arc;

use topictable_sdk::ConfigValue;
use topictable_sdk::arrow_array::{ArrayRef, StringArray};
use topictable_sdk::arrow_schema::{
    DataType, Field, Fields, Schema, TimeUnit, UnionFields, UnionMode,
};

use crate::columns::{ColId, Columns, Data};
use crate::program::MAX_PLAN_NODES;
use crate::schema::{Kind, Logical, NodeId, SchemaSet};

/// Where the values of one reader node go.
#[derive(Debug, Clone)]
pub enum Target {
    /// Nowhere (`mapping_only` left it out): the writer's bytes are skipped.
    Drop,
    /// A column without children.
    Leaf(ColId),
    /// A record: one target per reader field, in the reader's field order;
    /// `struct_col` is set when the record is an Arrow struct, unset when flattened.
    Record {
        /// Per reader field.
        fields: Vec<Target>,
        /// The struct column, if any.
        struct_col: Option<ColId>,
    },
    /// A list column and where its items go.
    List {
        /// The list column.
        col: ColId,
        /// The items' target.
        item: Box<Target>,
    },
    /// A dense union column and, per reader branch (in the union's order,
    /// which is the Arrow type id), where that branch's values go.
    Union {
        /// The union column.
        col: ColId,
        /// Per branch.
        branches: Vec<Target>,
    },
    /// A map column, its key column and where its values go.
    Map {
        /// The map column.
        col: ColId,
        /// The key column.
        keys: ColId,
        /// The values' target.
        values: Box<Target>,
    },
}

impl Target {
    /// The columns that take a null when this node is null.
    pub fn null_columns(&self, out: &mut Vec<ColId>) {
        match self {
            Target::Drop => {}
            Target::Leaf(c)
            | Target::Record {
                struct_col: Some(c),
                ..
            }
            | Target::List { col: c, .. }
            | Target::Union { col: c, .. }
            | Target::Map { col: c, .. } => out.push(*c),
            Target::Record {
                fields,
                struct_col: None,
            } => fields.iter().for_each(|f| f.null_columns(out)),
        }
    }

    /// The column holding this node's values (a leaf, struct, list, union or map).
    pub fn root_col(&self) -> ColId {
        match self {
            Target::Leaf(c)
            | Target::Record {
                struct_col: Some(c),
                ..
            }
            | Target::List { col: c, .. }
            | Target::Union { col: c, .. }
            | Target::Map { col: c, .. } => *c,
            _ => unreachable!("only column targets have a root column"),
        }
    }
}

/// How nested records become columns.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, ConfigValue,
)]
#[serde(rename_all = "snake_case")]
pub enum Nested {
    /// `a__b` columns (Deephaven's style).
    #[default]
    Flatten,
    /// One Arrow struct column per record field.
    Struct,
}

/// How unions other than `[null, T]` are read.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, ConfigValue,
)]
#[serde(rename_all = "snake_case")]
pub enum Unions {
    /// They are a config error.
    #[default]
    Error,
    /// They become Arrow dense unions, one child per branch.
    Union,
}

/// Options for turning a reader schema into columns.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Nested record handling.
    pub nested: Nested,
    /// Union handling.
    pub unions: Unions,
    /// Separator of flattened names.
    pub separator: String,
    /// Renames, by field path (`a__b` for flattened fields).
    pub mapping: HashMap<String, String>,
    /// Whether only mapped fields become columns.
    pub mapping_only: bool,
    /// The column name when the schema is not a record.
    pub column: String,
}

/// A reader schema, planned: output schema, columns and targets.
#[derive(Debug)]
pub struct ReaderPlan {
    /// The reader schema.
    pub set: SchemaSet,
    /// Its root node.
    pub root: NodeId,
    /// Where the root's values go.
    pub target: Target,
    /// The output schema.
    pub schema: Arc<Schema>,
    /// Empty columns, cloned by each decoder.
    pub columns: Columns,
    /// The top-level column of each output field.
    pub top: Vec<ColId>,
}

const MAX_DEPTH: usize = 64;

struct Planner<'a> {
    set: &'a SchemaSet,
    opts: &'a PlanOptions,
    columns: Columns,
    fields: Vec<Field>,
    top: Vec<ColId>,
    /// Plan steps so far, capped at [`MAX_PLAN_NODES`].
    nodes: usize,
}

impl ReaderPlan {
    /// Plans `root` of `set`.
    pub fn new(set: SchemaSet, root: NodeId, opts: &PlanOptions) -> Result<Self, String> {
        let mut p = Planner {
            set: &set,
            opts,
            columns: Columns::default(),
            fields: Vec::new(),
            top: Vec::new(),
            nodes: 0,
        };
        let inner = set.nullable_inner(root).unwrap_or(root);
        let target = match &set.node(inner).kind {
            Kind::Record { fields, .. } => {
                let mut targets = Vec::with_capacity(fields.len());
                for f in fields {
                    targets.push(p.top_field(f.ty, &f.name, 0)?);
                }
                Target::Record {
                    fields: targets,
                    struct_col: None,
                }
            }
            _ => p.top_field(root, &opts.column, 0)?,
        };
        let (columns, fields, top) = (p.columns, p.fields, p.top);
        if let Some(unused) = opts.mapping.keys().find(|k| {
            !fields
                .iter()
                .any(|f| f.metadata().get(PATH_KEY) == Some(*k))
        }) {
            return Err(format!(
                "mapping names field `{unused}`, which the schema does not have (fields: {})",
                fields
                    .iter()
                    .filter_map(|f| f.metadata().get(PATH_KEY).cloned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let fields: Vec<Field> = fields
            .into_iter()
            .map(|f| {
                let mut md = f.metadata().clone();
                md.remove(PATH_KEY);
                f.with_metadata(md)
            })
            .collect();
        Ok(Self {
            schema: Arc::new(Schema::new(fields)),
            set,
            root,
            target,
            columns,
            top,
        })
    }
}

/// Field metadata used while planning to remember a column's field path.
const PATH_KEY: &str = "topictable.avro.path";

impl Planner<'_> {
    /// Counts one more plan step; a schema that expands past
    /// [`MAX_PLAN_NODES`] columns and steps is refused at once.
    fn count(&mut self, path: &str) -> Result<(), String> {
        self.nodes += 1;
        if self.nodes > MAX_PLAN_NODES {
            return Err(format!(
                "field `{path}`: the schema expands to more than {MAX_PLAN_NODES} columns (a named type used in many places, nested?)"
            ));
        }
        Ok(())
    }

    /// Whether `mapping` names `path` or a field inside it.
    fn mapped_within(&self, path: &str) -> bool {
        self.opts.mapping.keys().any(|k| {
            k.strip_prefix(path)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(&self.opts.separator))
        })
    }

    /// A top-level field, or a field of a flattened record.
    fn top_field(&mut self, node: NodeId, path: &str, depth: usize) -> Result<Target, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "field `{path}`: records nest more than {MAX_DEPTH} levels deep (a recursive type cannot be flattened)"
            ));
        }
        // Under `mapping_only`, a field that no mapped path is in is skipped
        // whole, without planning what it holds.
        if self.opts.mapping_only && !self.mapped_within(path) {
            return Ok(Target::Drop);
        }
        self.count(path)?;
        let inner = self.set.nullable_inner(node).unwrap_or(node);
        if self.opts.nested == Nested::Flatten
            && let Kind::Record { fields, .. } = &self.set.node(inner).kind
        {
            let mut targets = Vec::with_capacity(fields.len());
            for f in fields {
                let sub = format!("{path}{}{}", self.opts.separator, f.name);
                targets.push(self.top_field(f.ty, &sub, depth + 1)?);
            }
            return Ok(Target::Record {
                fields: targets,
                struct_col: None,
            });
        }
        let name = match self.opts.mapping.get(path) {
            Some(n) => n.clone(),
            None if self.opts.mapping_only => return Ok(Target::Drop),
            None => path.to_string(),
        };
        let (field, target) = self.column(node, &name, path, 0)?;
        if self.fields.iter().any(|f| f.name() == field.name()) {
            return Err(format!(
                "two fields become column `{name}`; rename one with `mapping`"
            ));
        }
        let mut md = field.metadata().clone();
        md.insert(PATH_KEY.to_string(), path.to_string());
        self.top.push(target.root_col());
        // Every top-level column is nullable: a row that fails to decode is all nulls.
        self.fields
            .push(field.with_metadata(md).with_nullable(true));
        Ok(target)
    }

    /// A column (with its children) for `node`, named `name`.
    fn column(
        &mut self,
        node: NodeId,
        name: &str,
        path: &str,
        depth: usize,
    ) -> Result<(Field, Target), String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "field `{path}`: types nest more than {MAX_DEPTH} levels deep (a recursive type?)"
            ));
        }
        self.count(path)?;
        let set = self.set;
        let (node, nullable) = match set.nullable_inner(node) {
            Some(inner) => (inner, true),
            None => (node, false),
        };
        let n = set.node(node);
        let leaf = |dt: DataType| -> Option<DataType> { Some(dt) };
        let dt = match (&n.kind, n.logical) {
            (_, Some(Logical::Date)) => leaf(DataType::Date32),
            (_, Some(Logical::TimeMillis)) => leaf(DataType::Time32(TimeUnit::Millisecond)),
            (_, Some(Logical::TimeMicros)) => leaf(DataType::Time64(TimeUnit::Microsecond)),
            (_, Some(Logical::TimestampMillis)) => leaf(ts(TimeUnit::Millisecond, true)),
            (_, Some(Logical::TimestampMicros)) => leaf(ts(TimeUnit::Microsecond, true)),
            (_, Some(Logical::TimestampNanos)) => leaf(ts(TimeUnit::Nanosecond, true)),
            (_, Some(Logical::LocalTimestampMillis)) => leaf(ts(TimeUnit::Millisecond, false)),
            (_, Some(Logical::LocalTimestampMicros)) => leaf(ts(TimeUnit::Microsecond, false)),
            (_, Some(Logical::LocalTimestampNanos)) => leaf(ts(TimeUnit::Nanosecond, false)),
            (_, Some(Logical::Decimal { precision, scale })) => {
                leaf(DataType::Decimal128(precision, scale))
            }
            (_, Some(Logical::Uuid)) => {
                let c = self.columns.add_leaf(DataType::FixedSizeBinary(16), None);
                let field = Field::new(name, DataType::FixedSizeBinary(16), nullable)
                    .with_metadata(HashMap::from([(
                        "ARROW:extension:name".to_string(),
                        "arrow.uuid".to_string(),
                    )]));
                return Ok((field, Target::Leaf(c)));
            }
            (Kind::Null, _) => leaf(DataType::Null),
            (Kind::Boolean, _) => leaf(DataType::Boolean),
            (Kind::Int, _) => leaf(DataType::Int32),
            (Kind::Long, _) => leaf(DataType::Int64),
            (Kind::Float, _) => leaf(DataType::Float32),
            (Kind::Double, _) => leaf(DataType::Float64),
            (Kind::Bytes, _) => leaf(DataType::Binary),
            (Kind::String, _) => leaf(DataType::Utf8),
            (Kind::Fixed { size, .. }, _) => leaf(DataType::FixedSizeBinary(*size as i32)),
            (Kind::Enum { symbols, .. }, _) => {
                let values: ArrayRef = Arc::new(StringArray::from_iter_values(symbols));
                let dt = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                let c = self.columns.add_leaf(dt.clone(), Some(values));
                return Ok((Field::new(name, dt, nullable), Target::Leaf(c)));
            }
            _ => None,
        };
        if let Some(dt) = dt {
            let c = self.columns.add_leaf(dt.clone(), None);
            let nullable = nullable || dt == DataType::Null;
            return Ok((Field::new(name, dt, nullable), Target::Leaf(c)));
        }
        match &n.kind {
            Kind::Array(items) => {
                let (item, item_target) =
                    self.column(*items, "item", &format!("{path}[]"), depth + 1)?;
                let dt = DataType::List(Arc::new(item));
                let col = self
                    .columns
                    .add(dt.clone(), Data::list(item_target.root_col()));
                Ok((
                    Field::new(name, dt, nullable),
                    Target::List {
                        col,
                        item: Box::new(item_target),
                    },
                ))
            }
            Kind::Map(values) => {
                let keys = self.columns.add_leaf(DataType::Utf8, None);
                let (value, value_target) =
                    self.column(*values, "value", &format!("{path}{{}}"), depth + 1)?;
                let entries = Field::new(
                    "entries",
                    DataType::Struct(Fields::from(vec![
                        Field::new("key", DataType::Utf8, false),
                        value,
                    ])),
                    false,
                );
                let dt = DataType::Map(Arc::new(entries), false);
                let col = self
                    .columns
                    .add(dt.clone(), Data::map(keys, value_target.root_col()));
                Ok((
                    Field::new(name, dt, nullable),
                    Target::Map {
                        col,
                        keys,
                        values: Box::new(value_target),
                    },
                ))
            }
            Kind::Record { fields, .. } => {
                let mut children = Vec::with_capacity(fields.len());
                let mut child_fields = Vec::with_capacity(fields.len());
                let mut targets = Vec::with_capacity(fields.len());
                for f in fields {
                    let (field, t) =
                        self.column(f.ty, &f.name, &format!("{path}.{}", f.name), depth + 1)?;
                    children.push(t.root_col());
                    // A null struct gives its children nulls too.
                    child_fields.push(field.with_nullable(true));
                    targets.push(t);
                }
                let dt = DataType::Struct(Fields::from(child_fields));
                let col = self.columns.add(dt.clone(), Data::record(children));
                Ok((
                    Field::new(name, dt, nullable),
                    Target::Record {
                        fields: targets,
                        struct_col: Some(col),
                    },
                ))
            }
            Kind::Union(branches) if self.opts.unions == Unions::Union => {
                let mut children = Vec::with_capacity(branches.len());
                let mut child_fields = Vec::with_capacity(branches.len());
                let mut targets = Vec::with_capacity(branches.len());
                let mut null_child = None;
                for (i, b) in branches.iter().enumerate() {
                    let branch = branch_name(set, *b);
                    if let Kind::Union(_) = set.node(*b).kind {
                        return Err(format!(
                            "field `{path}`: a union directly inside a union is not valid Avro"
                        ));
                    }
                    let (field, t) =
                        self.column(*b, &branch, &format!("{path}<{branch}>"), depth + 1)?;
                    if let Kind::Null = set.node(*b).kind {
                        null_child = Some(i);
                    }
                    children.push(t.root_col());
                    // Children hold a row's null when the union has no null branch.
                    child_fields.push(field.with_nullable(true));
                    targets.push(t);
                }
                if branches.len() > i8::MAX as usize {
                    return Err(format!(
                        "field `{path}`: a union of {} branches does not fit an Arrow union",
                        branches.len()
                    ));
                }
                let fields = UnionFields::try_new(0..branches.len() as i8, child_fields)
                    .map_err(|e| format!("field `{path}`: {e}"))?;
                let dt = DataType::Union(fields, UnionMode::Dense);
                let col = self
                    .columns
                    .add(dt.clone(), Data::union(children, null_child));
                // An Arrow union has no validity of its own: nulls are in its children.
                Ok((
                    Field::new(name, dt, true),
                    Target::Union {
                        col,
                        branches: targets,
                    },
                ))
            }
            Kind::Union(branches) => {
                let names: Vec<String> = branches.iter().map(|b| type_name(set, *b)).collect();
                Err(format!(
                    "field `{path}`: union [{}] is not supported: only [\"null\", T] unions become columns unless `unions = \"union\"` (an Arrow dense union column)",
                    names.join(", ")
                ))
            }
            _ => unreachable!("leaf kinds were handled above"),
        }
    }
}

fn ts(unit: TimeUnit, utc: bool) -> DataType {
    DataType::Timestamp(unit, utc.then(|| "UTC".into()))
}

/// The name of a union branch's Arrow child: the type name for primitives,
/// the full name for named types, `array` and `map` otherwise (Avro allows
/// at most one unnamed type of each kind in a union, so names are unique).
pub fn branch_name(set: &SchemaSet, node: NodeId) -> String {
    match &set.node(node).kind {
        Kind::Array(_) => "array".into(),
        Kind::Map(_) => "map".into(),
        _ => type_name(set, node),
    }
}

/// A short name of a node's type for messages: `long`, `com.acme.Address`, `array`.
pub fn type_name(set: &SchemaSet, node: NodeId) -> String {
    if let Some(name) = set.name(node) {
        return name.to_string();
    }
    match &set.node(node).kind {
        Kind::Null => "null".into(),
        Kind::Boolean => "boolean".into(),
        Kind::Int => "int".into(),
        Kind::Long => "long".into(),
        Kind::Float => "float".into(),
        Kind::Double => "double".into(),
        Kind::Bytes => "bytes".into(),
        Kind::String => "string".into(),
        Kind::Array(i) => format!("array<{}>", type_name(set, *i)),
        Kind::Map(v) => format!("map<{}>", type_name(set, *v)),
        Kind::Union(b) => format!(
            "[{}]",
            b.iter()
                .map(|b| type_name(set, *b))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => "named".into(),
    }
}
