//! The bounds a directory entity written through any edge (gRPC `DirectoryService`, the
//! console's directory pages) must keep, in one place, so that both edges refuse the same input
//! with the same words. Each edge walks its own wire form (a protobuf `Struct`, JSON from a
//! form) and asks these bounds at every step.

use super::ServiceError;

/// The most aliases one entity may have.
pub const MAX_ENTITY_ALIASES: usize = 32;
/// The most standing roles one entity may have.
pub const MAX_ENTITY_ROLES: usize = 64;
/// The most groups one entity may belong to.
pub const MAX_ENTITY_GROUPS: usize = 256;
/// The most values (at every depth) one entity's properties may hold.
const MAX_PROPERTY_VALUES: usize = 256;
/// The deepest properties may nest (a top-level value is at depth 1).
const MAX_PROPERTY_DEPTH: usize = 8;
/// The longest property string, in bytes.
const MAX_PROPERTY_STRING_BYTES: usize = 4096;
/// The longest property name, in bytes.
const MAX_PROPERTY_NAME_BYTES: usize = 128;

/// What one entity's properties may still hold while an edge reads them.
#[derive(Debug)]
pub struct PropertyBudget {
    values_left: usize,
}

impl Default for PropertyBudget {
    fn default() -> Self {
        PropertyBudget {
            values_left: MAX_PROPERTY_VALUES,
        }
    }
}

impl PropertyBudget {
    /// Takes one value found at `depth` (a top-level value is at 1) under `field`; refused
    /// past the deepest nesting or the most values.
    pub fn take_value(&mut self, field: &str, depth: usize) -> Result<(), ServiceError> {
        if depth > MAX_PROPERTY_DEPTH {
            return Err(ServiceError::invalid(
                field,
                format!("properties nest more than {MAX_PROPERTY_DEPTH} deep"),
            ));
        }
        self.values_left = self.values_left.checked_sub(1).ok_or_else(|| {
            ServiceError::invalid(
                field,
                format!("more than {MAX_PROPERTY_VALUES} property values in one entity"),
            )
        })?;
        Ok(())
    }

    /// Refuses a property name that is too long or holds control characters.
    pub fn check_name(field: &str, name: &str) -> Result<(), ServiceError> {
        if name.len() > MAX_PROPERTY_NAME_BYTES || name.chars().any(char::is_control) {
            return Err(ServiceError::invalid(
                field,
                format!(
                    "a property name is {} bytes long or holds control characters; names are at most {MAX_PROPERTY_NAME_BYTES} bytes of printable text",
                    name.len()
                ),
            ));
        }
        Ok(())
    }

    /// Refuses a property string longer than the longest allowed.
    pub fn check_string(field: &str, text: &str) -> Result<(), ServiceError> {
        if text.len() > MAX_PROPERTY_STRING_BYTES {
            return Err(ServiceError::invalid(
                field,
                format!(
                    "a string of {} bytes; at most {MAX_PROPERTY_STRING_BYTES} are allowed",
                    text.len()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_refuses_depth_count_long_names_and_long_strings() {
        let mut budget = PropertyBudget::default();
        assert!(budget.take_value("p", MAX_PROPERTY_DEPTH).is_ok());
        assert!(budget.take_value("p", MAX_PROPERTY_DEPTH + 1).is_err());
        for _ in 1..MAX_PROPERTY_VALUES {
            budget.take_value("p", 1).unwrap();
        }
        assert!(budget.take_value("p", 1).is_err(), "one value too many");
        assert!(PropertyBudget::check_name("p", "department").is_ok());
        assert!(PropertyBudget::check_name("p", "a\u{7}b").is_err());
        assert!(PropertyBudget::check_name("p", &"n".repeat(129)).is_err());
        assert!(PropertyBudget::check_string("p", &"s".repeat(4096)).is_ok());
        assert!(PropertyBudget::check_string("p", &"s".repeat(4097)).is_err());
    }
}
