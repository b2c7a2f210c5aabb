//! `netdev list`: the host's devices, one line each.

use super::format::{self, Align, Table};
use super::record::LinkRecord;
use super::{host, CliError, Ctx};

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), CliError> {
    let links = host::links(ctx, "list")?;
    let names = host::names(&links);
    let records: Vec<LinkRecord> = links.iter().map(|l| LinkRecord::new(l, &names)).collect();
    if ctx.json {
        ctx.print_json(&records)?;
        return Ok(());
    }
    let mut table = Table::new(&[
        ("INDEX", Align::Right),
        ("NAME", Align::Left),
        ("KIND", Align::Left),
        ("MASTER", Align::Left),
        ("MTU", Align::Right),
        ("MAC", Align::Left),
        ("FLAGS", Align::Left),
    ]);
    for (r, link) in records.into_iter().zip(&links) {
        table.row(vec![
            r.ifindex.to_string(),
            format::escape(&r.name).into_owned(),
            format::escaped_or_none(r.kind.as_deref()),
            format::escaped_or_none(r.master.as_deref()),
            format::or_none(r.mtu),
            format::or_none(r.mac),
            format::flags(link.flags),
        ]);
    }
    table.write(ctx.out())?;
    Ok(())
}
