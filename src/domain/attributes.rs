//! Attribute values: the properties a PEP or the directory attaches to a subject, a resource or
//! an action, and the context of a request. They have JSON's shape, but are the domain's own
//! type, so no layer below the edge sees a wire type. Rules read them as CEL values.

use std::collections::BTreeMap;
use std::sync::Arc;

/// One attribute value. Numbers keep JSON's distinction as CEL needs it: a number written
/// without a fraction or exponent that fits in 64 bits is an integer, any other a double.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// Any other number.
    Double(f64),
    /// A string.
    String(Arc<str>),
    /// A list.
    List(Arc<[Value]>),
    /// A map with string keys.
    Map(Properties),
}

/// A set of named attribute values, ordered by name. Cloning shares the map.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Properties(Arc<BTreeMap<Arc<str>, Value>>);

impl Properties {
    /// The value named `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Every name and value, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(name, value)| (&**name, value))
    }

    /// These properties laid over `under`: where both name a value, this one wins. The
    /// directory's properties are laid over what a request says about the same entity, so a
    /// PEP can add facts but never overrule what the decision point knows.
    pub fn over(&self, under: &Properties) -> Properties {
        if under.is_empty() {
            return self.clone();
        }
        if self.is_empty() {
            return under.clone();
        }
        let mut merged = (*under.0).clone();
        merged.extend(self.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        Properties(Arc::new(merged))
    }
}

impl FromIterator<(Arc<str>, Value)> for Properties {
    fn from_iter<I: IntoIterator<Item = (Arc<str>, Value)>>(entries: I) -> Self {
        Properties(Arc::new(entries.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn properties(entries: &[(&str, &str)]) -> Properties {
        entries
            .iter()
            .map(|(k, v)| (Arc::from(*k), Value::String(Arc::from(*v))))
            .collect()
    }

    #[test]
    fn the_upper_properties_win_where_both_name_a_value_and_the_rest_are_kept() {
        let directory = properties(&[("email", "rick@the-citadel.com")]);
        let request = properties(&[("email", "forged@example.com"), ("ip", "10.0.0.1")]);
        let merged = directory.over(&request);
        assert_eq!(
            merged.get("email"),
            Some(&Value::String("rick@the-citadel.com".into()))
        );
        assert_eq!(merged.get("ip"), Some(&Value::String("10.0.0.1".into())));
        assert_eq!(merged.len(), 2);
    }
}
