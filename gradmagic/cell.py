"""Cell analysis: which names a cell reads and assigns, and its rewritten code.

Pure Python (``ast``), no JAX and no IPython.  The differentiation core needs three facts
about a cell, in cell order:

* ``reads``: names read before the cell assigns them. Their values before the cell runs are
  the candidate *inputs*.  Names read inside functions or lambdas defined in the cell count
  too (they are globals read at call time); comprehension and parameter names do not.
* ``assigns``: names the cell binds at top level, in order of first assignment: the
  candidate *targets* and the possible *intermediate* sources.
* ``last_expression``: the source text of a trailing expression statement, which becomes
  a target labelled by that text.

:func:`compile_cell` rewrites the cell so that the trailing expression is stored under
:data:`LAST_EXPRESSION` and, for each intermediate source ``y``, ``y = y + δ_y`` follows
its last top-level assignment: the derivative with respect to ``δ_y`` at 0 is the
derivative with respect to the intermediate value ``y``.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from types import CodeType

LAST_EXPRESSION = "__gradmagic_last__"
PERTURBATIONS = "__gradmagic_perturbations__"


@dataclass(frozen=True)
class CellAnalysis:
    """What a cell reads and assigns; see the module docstring."""

    source: str
    filename: str
    reads: tuple[str, ...]
    assigns: tuple[str, ...]
    last_expression: str | None

    def line(self, number: int) -> str:
        """The cell's source line ``number`` (1-based), stripped; '' when out of range."""
        lines = self.source.splitlines()
        return lines[number - 1].strip() if 1 <= number <= len(lines) else ""


class _OrderedNames(ast.NodeVisitor):
    """Visit statements in evaluation order, recording first reads and first assignments."""

    def __init__(self) -> None:
        self.assigned: set[str] = set()
        self.reads: list[str] = []
        self.assigns: list[str] = []

    def load(self, name: str) -> None:
        if name not in self.assigned and name not in self.reads:
            self.reads.append(name)

    def store(self, name: str) -> None:
        self.assigned.add(name)
        if name not in self.assigns:
            self.assigns.append(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.load(node.id)
        elif isinstance(node.ctx, ast.Store):
            self.store(node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self.visit(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.load(node.target.id)
        else:
            self.visit(node.target)
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.store(node.target.id)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.visit(node.target)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        for statement in node.body + node.orelse:
            self.visit(statement)

    visit_AsyncFor = visit_For

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expression in node.decorator_list + node.args.defaults + node.args.kw_defaults:
            if expression is not None:
                self.visit(expression)
        for name in _free_names(node.args, node.body):
            self.load(name)
        self.store(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expression in node.args.defaults + node.args.kw_defaults:
            if expression is not None:
                self.visit(expression)
        for name in _free_names(node.args, [node.body]):
            self.load(name)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expression in node.decorator_list + node.bases:
            self.visit(expression)
        self.store(node.name)

    def _comprehension(self, node: ast.AST, elements: list[ast.AST]) -> None:
        generators: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        # The first iterable is evaluated in the enclosing scope; the rest is local.
        self.visit(generators[0].iter)
        local_names = {
            name.id
            for generator in generators
            for name in ast.walk(generator.target)
            if isinstance(name, ast.Name)
        }
        inner = [*elements, *(g.iter for g in generators[1:])]
        inner += [condition for g in generators for condition in g.ifs]
        for expression in inner:
            for name in _loaded_names(expression):
                if name not in local_names:
                    self.load(name)

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_ListComp
    visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, [node.key, node.value])

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            self.store((alias.asname or alias.name).split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.store(node.name)
        for statement in node.body:
            self.visit(statement)


def _loaded_names(node: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]


def _free_names(arguments: ast.arguments, body: list[ast.AST]) -> list[str]:
    """Names a function body reads that are neither its parameters nor its locals."""
    parameters = {a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs}
    parameters |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None}
    local_names = set(parameters)
    declared_global: set[str] = set()
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                local_names.add(node.id)
            elif isinstance(node, ast.Global):
                declared_global.update(node.names)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                local_names.add(node.name)
            elif isinstance(node, ast.arg):
                local_names.add(node.arg)
    local_names -= declared_global
    free: list[str] = []
    for statement in body:
        for name in _loaded_names(statement):
            if name not in local_names and name not in free:
                free.append(name)
    return free


@functools.lru_cache(maxsize=256)
def analyse_cell(source: str, filename: str = "<cell>") -> CellAnalysis:
    """Analyse a cell's source; a ``SyntaxError`` propagates with the cell's line numbers."""
    tree = ast.parse(source, filename=filename)
    visitor = _OrderedNames()
    for statement in tree.body:
        visitor.visit(statement)
    last_expression = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last_expression = ast.get_source_segment(source, tree.body[-1].value)
    return CellAnalysis(
        source=source,
        filename=filename,
        reads=tuple(visitor.reads),
        assigns=tuple(visitor.assigns),
        last_expression=last_expression,
    )


def _assigned_at_top_level(statement: ast.stmt) -> set[str]:
    visitor = _OrderedNames()
    visitor.visit(statement)
    return visitor.assigned


@functools.lru_cache(maxsize=256)
def compile_cell(analysis: CellAnalysis, perturbed: tuple[str, ...] = ()) -> CodeType:
    """Compile the cell with its last expression captured and ``perturbed`` names nudged.

    After the last top-level statement that assigns each perturbed name ``y`` the code runs
    ``y = y + __gradmagic_perturbations__['y']``; line numbers stay those of the cell so that
    tracebacks and the recorded operations point at the user's lines.
    """
    tree = ast.parse(analysis.source, filename=analysis.filename)
    body: list[ast.stmt] = list(tree.body)
    if analysis.last_expression is not None:
        last = body[-1]
        assert isinstance(last, ast.Expr)
        body[-1] = ast.copy_location(
            ast.Assign(targets=[ast.Name(LAST_EXPRESSION, ast.Store())], value=last.value), last
        )
    for name in perturbed:
        positions = [i for i, s in enumerate(body) if name in _assigned_at_top_level(s)]
        if not positions:
            raise ValueError(f"{name!r} is not assigned at the top level of the cell")
        anchor = body[positions[-1]]
        nudge = ast.parse(f"{name} = {name} + {PERTURBATIONS}[{name!r}]").body[0]
        for node in ast.walk(nudge):
            ast.copy_location(node, anchor)
            node.end_lineno = anchor.end_lineno  # type: ignore[attr-defined]
        body.insert(positions[-1] + 1, nudge)
    tree.body = body
    ast.fix_missing_locations(tree)
    return compile(tree, analysis.filename, "exec")
