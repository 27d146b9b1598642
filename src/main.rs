//! `gpx_lantern`: the executable Grafana starts. All logic lives in the library.

fn main() -> anyhow::Result<()> {
    lantern::grpc::run()
}
