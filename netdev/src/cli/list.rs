//! `netdev list`: the host's devices, one line each.

use super::format::{Align, Escaped, FlagNames, OrNone, Table};
use super::record::LinkRecord;
use super::{host, CliError, Ctx};

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), CliError> {
    let links = host::links(ctx, "list")?;
    let names = host::names(&links);
    if ctx.json {
        let records: Vec<LinkRecord<'_>> =
            links.iter().map(|l| LinkRecord::new(l, &names)).collect();
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
    for link in &links {
        let master = link.master.map(|m| host::name_of(&names, m));
        table
            .cell(link.ifindex)
            .cell(Escaped(&link.name))
            .cell(OrNone(link.kind.as_deref().map(Escaped)))
            .cell(OrNone(master.as_deref().map(Escaped)))
            .cell(OrNone(link.mtu))
            .cell(OrNone(link.mac))
            .cell(FlagNames(link.flags));
    }
    table.write(ctx.out())?;
    Ok(())
}
