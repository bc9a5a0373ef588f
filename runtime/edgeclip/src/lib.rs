//! edgeclip
