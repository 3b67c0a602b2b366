//! The typed service model deserialized from the resolved configuration.
