fn main() {
    let root = std::path::PathBuf::from(std::env::args().nth(1).unwrap());
    let run = if std::env::args().nth(2).is_some() {
        rig::report::sample::run(&root, std::env::args().nth(2).unwrap().parse().unwrap(), 20)
            .unwrap()
    } else {
        rig::report::read_summary(&root).unwrap()
    };
    let t = std::time::Instant::now();
    let w = rig::report::write(&root, &run).unwrap();
    println!("{:?} in {:?}", w, t.elapsed());
}
