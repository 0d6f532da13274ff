//! Markdown tables, as TensorBoard's Text dashboard renders them (Python
//! Markdown with its tables extension) and as GitHub does.

/// A table with one header row. Cells are escaped, so a value holding `|`,
/// `_` or `*` shows as written instead of splitting a column or turning into
/// emphasis.
pub fn table<S: AsRef<str>>(headers: &[&str], rows: &[Vec<S>]) -> String {
    let mut out = String::new();
    push_row(&mut out, headers.iter().copied());
    push_row(&mut out, headers.iter().map(|_| "---"));
    for row in rows {
        push_row(&mut out, row.iter().map(AsRef::as_ref));
    }
    out
}

fn push_row<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>) {
    let cells: Vec<String> = cells.map(escape).collect();
    out.push_str("| ");
    out.push_str(&cells.join(" | "));
    out.push_str(" |\n");
}

/// Backslash-escapes the characters that mean something in a table cell
/// (`<` becomes an entity: Markdown has no escape for it, and TensorBoard
/// strips what looks like an HTML tag); a line break would end the row, so
/// it becomes a space.
pub fn escape(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    for c in cell.chars() {
        match c {
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_separator_and_rows() {
        let t = table(
            &["run", "acc"],
            &[vec!["relu", "90%"], vec!["sigmoid", "37%"]],
        );
        assert_eq!(
            t,
            "| run | acc |\n| --- | --- |\n| relu | 90% |\n| sigmoid | 37% |\n"
        );
    }

    #[test]
    fn pipes_and_markup_are_escaped() {
        let t = table(&["|g| L1"], &[vec!["leaky_relu\nx"]]);
        assert_eq!(t.lines().next(), Some(r"| \|g\| L1 |"));
        assert_eq!(t.lines().nth(2), Some(r"| leaky\_relu x |"));
    }
}
