//! Projects a point cloud file and saves its views (`view_NN.png` and `views.npy`)
//! for a person to look at.
//!
//! ```sh
//! cargo run --release -p edgeclip-points --example save_views -- CLOUD [v1|v2|v1-raw] [DIR]
//! ```
//!
//! `v1-raw` projects V1 without normalising the cloud into the unit sphere first.
//! DIR defaults to `views`.

use std::path::PathBuf;

use edgeclip_points::project::{save_views, Projection, Views};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let cloud = PathBuf::from(
        args.next()
            .ok_or("usage: save_views CLOUD [v1|v2|v1-raw] [DIR]")?,
    );
    let projection = match args.next().as_deref() {
        None => Projection::default(),
        Some("v1-raw") => Projection::V1 { normalize: false },
        Some(name) => name.parse()?,
    };
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "views".into()));
    let cloud = edgeclip_points::read::read_path(&cloud)?;
    let mut views = Views::new();
    projection.project(&cloud, &mut views);
    for path in save_views(&dir, &views)? {
        println!("{}", path.display());
    }
    Ok(())
}
