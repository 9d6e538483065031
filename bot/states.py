"""Conversation steps (FSM). Only the step and a draft live here; everything else is in the database."""

from aiogram.fsm.state import State, StatesGroup


class Register(StatesGroup):
    name = State()
    credit_code = State()
    contact = State()
    phone = State()
    industry = State()
    scale = State()
    district = State()
    confirm = State()


class Compose(StatesGroup):
    """Attachments received, waiting for the text of the appeal."""

    text = State()


class Work(StatesGroup):
    """A button asked for a text about one appeal (``appeal_id`` in the FSM data)."""

    reply = State()
    return_reason = State()
    close_reason = State()
    extension = State()
    note = State()
    message = State()
    followup = State()


class ProfileEdit(StatesGroup):
    year = State()
    business = State()
