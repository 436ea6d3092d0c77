"""A LangChain retriever chain over a user's memory, recalling across threads.

Day 1, a chat chain with ``RunnableWithMessageHistory`` stores Jane's conversation in a thread
(``AgentMemoryChatMessageHistory``). Day 2, a retrieval chain in a new session answers from
``AgentMemoryRetriever``: facts, entities and episodes as Documents, with their dates, a
relevance score in [0, 1] and provenance in metadata.

``RunnableWithMessageHistory`` is deprecated in langchain-core 1.8 (LangChain now recommends
LangGraph persistence: ``create_agent`` with a checkpointer, see ``examples/langgraph_agent.py``);
it is shown here for existing chains, and the retriever half works with either.

    pip install -e ".[all]"
    python examples/langchain_retriever_chain.py

Offline by default: a fake chat model answers from the retrieved context. With ``OPENAI_API_KEY``
set (and ``pip install langchain-openai``), a real model answers. Memory lives in a temporary
directory unless ``AGENT_MEMORY_HOME`` is set.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from typing import Any

from langchain_agent_memory import AgentMemoryChatMessageHistory, AgentMemoryRetriever
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnablePassthrough
from langchain_core.runnables.history import RunnableWithMessageHistory
from pydantic import Field

from agent_memory import Memory


class ContextEchoModel(GenericFakeChatModel):
    """Offline stand-in for a chat model: answers questions with the facts in the prompt's context."""

    messages: Any = Field(default_factory=lambda: iter(()))

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        prompt = str(messages[-1].text)
        facts = re.findall(r"^\[fact, valid .+?\] (.+)$", prompt, re.M)
        if prompt.rstrip().endswith("?") and facts:
            text = "From memory: " + "; ".join(f.rstrip(".") for f in facts) + "."
        else:
            text = "Thanks, I'll remember that."
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])


def chat_model() -> BaseChatModel:
    """A real model when OPENAI_API_KEY is set and langchain-openai is installed; else the fake."""
    if os.environ.get("OPENAI_API_KEY"):
        try:
            from langchain_openai import ChatOpenAI  # type: ignore[import-not-found]

            return ChatOpenAI(model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"), temperature=0)
        except ImportError:
            print("(OPENAI_API_KEY is set but langchain-openai is not installed: using the offline model)")
    return ContextEchoModel()


def format_docs(docs: list[Document]) -> str:
    """One line per document, with its kind and dates."""
    lines = []
    for d in docs:
        m = d.metadata
        if m["kind"] == "fact":
            until = (m["invalid_at"] or "present")[:10]
            lines.append(f"[fact, valid {(m['valid_at'] or 'unknown')[:10]} - {until}] {d.page_content}")
        elif m["kind"] == "episode":
            lines.append(f"[said on {m['reference_time'][:10]}] {d.page_content}")
        else:
            lines.append(f"[{m['kind']}] {d.page_content}")
    return "\n".join(lines)


def main(home: str) -> None:
    model = chat_model()

    print("== Day 1: a chat with history in thread day-1 ==")
    with Memory(home) as memory:
        memory.user.add(user_id="jane", first_name="Jane", last_name="Smith")
        prompt = ChatPromptTemplate.from_messages([
            ("system", "You are a friendly assistant."),
            MessagesPlaceholder("history"),
            ("human", "{input}"),
        ])
        with warnings.catch_warnings():  # RunnableWithMessageHistory is deprecated but supported
            warnings.simplefilter("ignore", DeprecationWarning)
            chat = RunnableWithMessageHistory(
                prompt | model | StrOutputParser(),
                lambda session_id: AgentMemoryChatMessageHistory(memory, session_id, user_id="jane"),
                input_messages_key="input", history_messages_key="history")
        for text in ("I moved to Denver last week.", "I work at Acme Corp."):
            reply = chat.invoke({"input": text}, {"configurable": {"session_id": "day-1"}})
            print(f"  user: {text}\n  assistant: {reply}")

    print("== Day 2: a retrieval chain, new session, memory reopened from disk ==")
    with Memory(home) as memory:
        retriever = AgentMemoryRetriever(memory=memory, user_id="jane", k=6)
        rag = ChatPromptTemplate.from_messages([
            ("system", "Answer from what you remember about the user."),
            ("human", "What you remember:\n{context}\n\nQuestion: {question}")])
        inputs = {"context": retriever | format_docs, "question": RunnablePassthrough()}
        chain = inputs | rag | model | StrOutputParser()
        question = "Where do I live and work?"
        print("  retrieved:")
        for doc in retriever.invoke(question):
            m = doc.metadata
            print(f"    {m['kind']:8} score={m['score']:.3f}  {doc.page_content[:70]}")
        reply = chain.invoke(question)
        print(f"  user: {question}\n  assistant: {reply}")
        print(f"RECALL ACROSS THREADS: {'yes' if 'Denver' in reply else 'no'}")


if __name__ == "__main__":
    if os.environ.get("AGENT_MEMORY_HOME"):
        main(os.environ["AGENT_MEMORY_HOME"])
    else:
        with tempfile.TemporaryDirectory(prefix="agent-memory-example-") as tmp:
            main(tmp)
