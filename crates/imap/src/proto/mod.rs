//! Sans-IO protocol pieces.
