//! `edgeclip tokenize`: the token ids the text tower would see.

use anyhow::Result;
use edgeclip::tokenizer::Tokenizer;

use crate::args::TokenizeArgs;
use crate::context::{Ctx, Outcome};
use crate::output::Record;

/// Runs `tokenize`.
pub fn run(ctx: &mut Ctx, args: TokenizeArgs) -> Result<Outcome> {
    // The package sets the length: a model with another context takes other ids.
    let context_length = ctx.package()?.manifest().tokenizer.context_length;
    let tokenizer = Tokenizer::openai();
    for text in &args.texts {
        let ids = tokenizer.tokenize(text, context_length)?;
        ctx.out.print(&Record::Tokens { text, ids: &ids })?;
    }
    Ok(Outcome::Success)
}
